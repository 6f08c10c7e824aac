"""``translate train``, ``predict`` and ``evaluate`` end to end through ``rnnkit.cli.main``:
outputs, the test report, predictions from the command line and from Python, exact resume,
and an encoder-decoder that learns to reverse short strings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from translate_helpers import reversals, train_args, write_jsonl

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks.translate import METRICS_FILE, Seq2Seq, greedy, load_translator
from rnnkit.tasks.translate.pairs import encode_pairs
from rnnkit.tasks.translate.task import sequence_loss
from rnnkit.tasks.translate.vocab import SeqVocab, encode_batch
from rnnkit.train import BEST, LAST, load_checkpoint


def test_a_run_writes_checkpoints_metrics_and_the_test_report(trained):
    assert {p.name for p in trained.iterdir()} >= {LAST, BEST, "metrics.jsonl", METRICS_FILE}
    report = json.loads((trained / METRICS_FILE).read_text())
    assert set(report["test"]) == {"greedy", "beam_5"}
    for rates in report["test"].values():
        assert 0 <= rates["wer"] <= 1 and rates["sources"] == report["examples"]["test"]
    evals = [r for r in map(json.loads, (trained / "metrics.jsonl").open()) if "val_wer" in r]
    assert [r["step"] for r in evals] == [3, 6] and all("val_per" in r for r in evals)
    ckpt = load_checkpoint(trained / LAST)
    assert ckpt["config"]["task"] == "translate"
    assert ckpt["target_vocab"]["tokens"][:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]


def test_predict_prints_outputs_and_n_best_lists(trained, capsys):
    capsys.readouterr()
    argv = ["translate", "predict", "--checkpoint", str(trained), "abc", "fed  a"]
    assert main([*argv, "--backend", "reference"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["abc", "fed a"]
    assert main([*argv, "--beam-size", "3", "--n-best", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and [line.split("\t")[1] for line in lines] == ["1", "2"] * 2
    assert float(lines[0].split("\t")[2]) >= float(lines[1].split("\t")[2])


def test_predict_reads_an_input_file(trained, tmp_path, capsys):
    (tmp_path / "words.txt").write_text("abc\n\nbad\n", encoding="utf-8")
    capsys.readouterr()
    argv = ["translate", "predict", "--checkpoint", str(trained)]
    assert main([*argv, "--input", str(tmp_path / "words.txt"), "--beam-size", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_evaluate_prints_the_table_and_writes_json(trained, pairs_tsv, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "m.json"
    argv = ["translate", "evaluate", "--checkpoint", str(trained), "--data", str(pairs_tsv)]
    assert main([*argv, "--beam-size", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "WER" in text and "beam 2" in text
    report = json.loads(out.read_text())
    assert report["pairs"] == 200 and set(report) >= {"greedy", "beam_2"}
    own = main(["translate", "evaluate", "--checkpoint", str(trained), "--beam-size", "1"])
    n_test = json.loads((trained / METRICS_FILE).read_text())["examples"]["test"]
    assert own == 0 and f"test split: {n_test} sources" in capsys.readouterr().out


def test_loaded_translator_translates_from_python(trained):
    translator = load_translator(trained)
    outputs = translator.translate(["abc", "d"], beam_size=3)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)
    best = translator.n_best(["abc"], beam_size=3, n=3)[0]
    assert len(best) == 3 and best[0][1].score >= best[2][1].score
    with pytest.raises(TypeError, match="list of texts"):
        translator.translate("abc")


def test_word_level_pairs_are_scored_with_bleu_and_chrf(tmp_path):
    rows = [{"en": f"the {w} cat", "xx": f"la {w} chat"} for w in ("red", "big", "old") * 10]
    data = write_jsonl(tmp_path / "p.jsonl", rows)
    out = tmp_path / "words"
    argv = train_args(data, out, "--steps", "2", "--source-column", "en", "--target-column", "xx")
    argv += ["--source-level", "word", "--target-level", "word", "--attention", "bahdanau"]
    argv += ["--cell", "gru", "--beam-size", "1", "--val-split", "0.34", "--test-split", "0.34"]
    assert main(argv) == 0
    report = json.loads((out / METRICS_FILE).read_text())
    assert set(report["test"]) == {"greedy"}
    assert {"bleu", "chrf", "wer", "per"} <= set(report["test"]["greedy"])


def _weights(path):
    return load_checkpoint(path / LAST)["model"]


def test_resume_continues_exactly_like_an_unbroken_run(pairs_tsv, tmp_path):
    # constant rate (the cosine schedule depends on the total); dropout and teacher forcing
    # draw from the RNG
    extra = ("--schedule", "constant", "--warmup", "0", "--dropout", "0.3", "--save-every", "4")
    extra += ("--teacher-forcing", "0.7", "--beam-size", "1")
    assert main(train_args(pairs_tsv, tmp_path / "full", "--steps", "24", *extra)) == 0
    assert main(train_args(pairs_tsv, tmp_path / "cut", "--steps", "8", *extra)) == 0
    assert main(train_args(pairs_tsv, tmp_path / "cut", "--steps", "24", "--resume", *extra)) == 0
    full, resumed = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert load_checkpoint(tmp_path / "cut" / LAST)["step"] == 24  # over an epoch boundary (20)
    assert all(torch.equal(resumed[k], v) for k, v in full.items())


def test_resume_extends_a_finished_run(trained, pairs_tsv, tmp_path):
    out = tmp_path / "more"
    shutil.copytree(trained, out)
    assert main(train_args(pairs_tsv, out, "--steps", "9", "--resume")) == 0
    assert load_checkpoint(out / LAST)["step"] == 9


def test_an_encoder_decoder_learns_to_reverse_short_strings():
    """>= 95% of held-out strings reversed exactly after 200 steps of batch 32."""
    rnnkit.set_backend("auto")  # the native engine: this test trains for real
    torch.set_num_threads(1)
    torch.manual_seed(0)
    pairs = reversals(1200, seed=0)
    train_pairs, test_pairs = pairs[:1000], reversals(200, seed=1)
    src_vocab = SeqVocab.build([s for s, _ in train_pairs], "char")
    tgt_vocab = SeqVocab.build([t for _, t in train_pairs], "space")
    data = encode_pairs(train_pairs, src_vocab, tgt_vocab)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), 16, 32, 1, "lstm", attention="luong-dot")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        src, lengths, tgt_in, tgt_out = data.rows(torch.randint(0, len(data), (32,), generator=g))
        loss = sequence_loss(model(src, lengths, tgt_in), tgt_out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    src, lengths = encode_batch(src_vocab, [s for s, _ in test_pairs], eos=False)
    hyps, _ = greedy(model, src, lengths)
    right = sum(tgt_vocab.decode(h.tokens) == t for h, (_, t) in zip(hyps, test_pairs))
    assert right / len(test_pairs) >= 0.95, right


def test_two_processes_under_torchrun_end_with_the_weights_of_one(pairs_tsv, tmp_path):
    """Each rank divides its summed loss by its share of the global batch's target tokens:
    the averaged gradient is the one-process gradient, though the ranks' counts differ."""
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed unavailable")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["-m", "rnnkit", *train_args(pairs_tsv, "OUT", "--steps", "4", "--device", "cpu")]
    args += ["--dropout", "0", "--beam-size", "1"]
    runs = {}
    for name, launcher in (("one", []), ("two", ["-m", "torch.distributed.run", "--standalone",
                                                  "--nproc_per_node=2"])):  # fmt: skip
        argv = [a if a != "OUT" else str(tmp_path / name) for a in args]
        done = subprocess.run(
            [sys.executable, *launcher, *argv], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        runs[name] = load_checkpoint(tmp_path / name / LAST)
    assert runs["two"]["world_size"] == 2
    for key, value in runs["one"]["model"].items():
        assert torch.allclose(runs["two"]["model"][key], value, atol=1e-5), key
