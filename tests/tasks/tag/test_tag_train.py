"""``tag train``, ``predict`` and ``evaluate`` end to end through ``rnnkit.cli.main``: outputs,
the test report, predictions (conll, json with character offsets) from the command line and
from Python, other formats and options, exact resume, and a small learning test."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from tag_helpers import ner_sentences, train_args, write_conll, write_slash

from rnnkit.cli import main
from rnnkit.tasks.tag import METRICS_FILE, load_tagger, predict
from rnnkit.train import BEST, LAST, load_checkpoint


def test_a_run_writes_checkpoints_metrics_and_the_test_report(trained):
    assert {p.name for p in trained.iterdir()} >= {LAST, BEST, "metrics.jsonl", METRICS_FILE}
    report = json.loads((trained / METRICS_FILE).read_text())
    assert report["sentences"] == {"train": 51, "validation": 3, "test": 6}
    assert set(report["entities"]["per_type"]) <= {"PER", "LOC"}
    assert report["error"] == pytest.approx(1 - report["entities"]["micro"]["f1"])
    assert len(report["confusion_matrix"]) == len(report["tags"]) == 4  # O, B-LOC, B-PER, I-PER
    evals = [r for r in map(json.loads, (trained / "metrics.jsonl").open()) if "val_loss" in r]
    assert [r["step"] for r in evals] == [3, 6] and all("val_token_error" in r for r in evals)


def test_checkpoint_carries_the_vocabularies(trained):
    ckpt = load_checkpoint(trained / LAST)
    assert ckpt["vocab"]["tags"][0] == "O" and ckpt["vocab"]["words"][:2] == ["<pad>", "<unk>"]
    assert ckpt["config"]["task"] == "tag" and ckpt["config"]["tag"]["task"] == "ner"


def test_predict_prints_conll_lines(trained, capsys):
    capsys.readouterr()
    argv = ["tag", "predict", "--checkpoint", str(trained), "met alice in rome", "hi"]
    assert main([*argv, "--backend", "reference"]) == 0
    blocks = capsys.readouterr().out.split("\n\n")
    assert [line.split("\t")[0] for line in blocks[0].splitlines()] == ["met", "alice", "in",
                                                                         "rome"]  # fmt: skip
    assert blocks[1].split("\t")[0] == "hi"


def test_predict_json_gives_entities_with_character_offsets(trained, tmp_path, capsys):
    (tmp_path / "texts.txt").write_text("saw  bruno emil in oslo\n\nthe end\n", encoding="utf-8")
    capsys.readouterr()
    argv = ["tag", "predict", "--checkpoint", str(trained), "--input", str(tmp_path / "texts.txt")]
    assert main([*argv, "--output-format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 2 and rows[0]["tokens"] == ["saw", "bruno", "emil", "in", "oslo"]
    for row in rows:
        for e in row["entities"]:
            assert row["text"][e["start"] : e["end"]] == e["text"] and e["type"] in ("PER", "LOC")


def test_tagger_from_python_takes_texts_and_token_lists(trained):
    tagger = load_tagger(trained)
    out = tagger.tag(["met alice in rome", ["saw", "goran"], ""])
    assert [len(r["tags"]) for r in out] == [4, 2, 0]
    assert out[1]["text"] == "saw goran" and out[2]["entities"] == []
    punct = tagger.tag(["met alice, in rome."])[0]["tokens"]
    assert punct == ["met", "alice", ",", "in", "rome", "."]  # punctuation apart
    with pytest.raises(TypeError, match="list of texts"):
        tagger.tag("met alice")


def test_evaluate_scores_a_file_and_the_runs_own_test_split(trained, ner_conll, tmp_path, capsys):
    argv = ["tag", "evaluate", "--checkpoint", str(trained), "--backend", "reference"]
    assert main([*argv, "--data", str(ner_conll), "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["sentences"] == 60 and "micro" in capsys.readouterr().out
    assert main(argv) == 0  # the run's test split: the same numbers as the training report
    again = json.loads((trained / METRICS_FILE).read_text())
    assert "6 sentences" in capsys.readouterr().out and again["sentences"]["test"] == 6


def test_bioes_scheme_and_slash_format_and_cnn_features(tmp_path):
    data = write_slash(tmp_path / "ner.txt", ner_sentences(40))
    out = tmp_path / "bioes"
    argv = train_args(data, out, "--steps", "2", "--scheme", "bioes", "--char-features", "cnn")
    assert main(argv) == 0
    tags = load_checkpoint(out / LAST)["vocab"]["tags"]
    assert "S-LOC" in tags and "E-PER" in tags and not any(t.startswith("I-LOC") for t in tags)
    assert load_tagger(out).model.chars.__class__.__name__ == "CharCNN"


def test_pos_from_conllu_with_given_validation_and_test_files(tmp_path):
    lines = []
    for i, s in enumerate(ner_sentences(30)):
        lines += [f"{k}\t{w}\t{w}\t{'NOUN' if t != 'O' else 'X'}\t_\t_\t0\t_\t_\t_"
                  for k, (w, t) in enumerate(s, start=1)] + [""]  # fmt: skip
        if i == 3:
            lines.insert(-2, "2-3\tgone\t_\t_\t_\t_\t_\t_\t_\t_")  # a multi-word token line
    path = tmp_path / "pos.conllu"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "pos"
    argv = train_args(path, out, "--steps", "2", "--val-data", str(path), "--test-data", str(path))
    assert main([*argv, "--no-crf"]) == 0
    report = json.loads((out / METRICS_FILE).read_text())
    assert report["sentences"] == {"train": 30, "validation": 30, "test": 30}
    assert "entities" not in report and report["error"] == pytest.approx(1 - report["accuracy"])
    assert load_tagger(out).model.crf is None


def _weights(path):
    return load_checkpoint(path / LAST)["model"]


def test_resume_continues_exactly_like_an_unbroken_run(ner_conll, tmp_path):
    extra = ("--schedule", "constant", "--warmup", "0", "--save-every", "4")
    extra += ("--word-dropout", "0.2", "--dropout", "0.3", "--rare-dropout", "0.25")
    assert main(train_args(ner_conll, tmp_path / "full", "--steps", "16", *extra)) == 0
    assert main(train_args(ner_conll, tmp_path / "cut", "--steps", "7", *extra)) == 0
    assert main(train_args(ner_conll, tmp_path / "cut", "--steps", "16", "--resume", *extra)) == 0
    full, resumed = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert load_checkpoint(tmp_path / "cut" / LAST)["step"] == 16  # past an epoch boundary (12)
    assert all(torch.equal(resumed[k], v) for k, v in full.items())


def test_resume_extends_a_finished_run(trained, ner_conll, tmp_path):
    out = tmp_path / "more"
    shutil.copytree(trained, out)
    assert main(train_args(ner_conll, out, "--steps", "8", "--resume")) == 0
    assert load_checkpoint(out / LAST)["step"] == 8


@pytest.mark.slow
@pytest.mark.parametrize("crf", [True, False])
def test_a_small_tagger_learns_entities_from_their_context(tmp_path, crf):
    data = write_conll(tmp_path / "ner.conll", ner_sentences(300, seed=1))
    out = tmp_path / "learn"
    argv = train_args(data, out, "--steps", "150", "--eval-every", "50", "--lr", "0.02")
    argv += ["--embed", "16", "--hidden", "16", "--batch-size", "16", "--dropout", "0"]
    argv += ["--warmup", "10", "--crf" if crf else "--no-crf"]
    assert main(argv) == 0
    report = json.loads((out / METRICS_FILE).read_text())
    assert report["entities"]["micro"]["f1"] >= 0.95, report["entities"]
    if crf:  # constrained decoding: never an I- tag after O
        buf = io.StringIO()
        results = predict(out, ["in in alice emil bruno the oslo"], out=buf)
        assert all(not (a == "O" and b.startswith("I-")) for a, b in
                   zip(["O", *results[0]["tags"]], results[0]["tags"]))  # fmt: skip


def test_two_processes_under_torchrun_end_with_the_weights_of_one(ner_conll, tmp_path):
    """Each rank divides its summed loss by its share of the global batch's tokens: the
    averaged gradient is the one-process gradient, though the ranks' token counts differ."""
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed unavailable")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["-m", "rnnkit", *train_args(ner_conll, "OUT", "--steps", "5", "--device", "cpu")]
    args += ["--dropout", "0", "--batch-size", "6"]
    runs = {}
    for name, launcher in (("one", []), ("two", ["-m", "torch.distributed.run", "--standalone",
                                                  "--nproc_per_node=2"])):  # fmt: skip
        argv = [a if a != "OUT" else str(tmp_path / name) for a in args]
        subprocess.run([sys.executable, *launcher, *argv], check=True, env=env, capture_output=True)
        runs[name] = load_checkpoint(tmp_path / name / LAST)
    assert runs["two"]["world_size"] == 2
    for key, value in runs["one"]["model"].items():
        assert torch.allclose(runs["two"]["model"][key], value, atol=1e-5), key
