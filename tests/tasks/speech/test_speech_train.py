"""``speech train``, ``predict`` and ``evaluate`` end to end through ``rnnkit.cli.main``: the run's
outputs, transcripts from the command line and from Python, exact resume, streaming equal to
offline, and a small model that learns the chirps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from speech_helpers import RATE, chirp, train_args

from rnnkit.cli import main
from rnnkit.tasks.speech import METRICS_FILE, load_recognizer
from rnnkit.train import BEST, LAST, load_checkpoint


def test_a_run_writes_checkpoints_metrics_and_the_test_report(trained):
    assert {p.name for p in trained.iterdir()} >= {LAST, BEST, "metrics.jsonl", METRICS_FILE}
    report = json.loads((trained / METRICS_FILE).read_text())
    assert report["recordings"] == 3 * 3 * 5  # takes 0-4
    assert report["recordings_per_split"]["test"] == 45
    assert set(report["isolated"]) >= {"accuracy", "wer", "ser", "confusion_matrix"}
    assert sum(u for u in [report["connected"]["words"]]) == 45
    evals = [r for r in map(json.loads, (trained / "metrics.jsonl").open()) if "val_wer" in r]
    assert [r["step"] for r in evals] == [4, 8]
    assert load_checkpoint(trained / LAST)["config"]["task"] == "speech"


def test_predict_prints_a_transcript_per_file(trained, digits, capsys):
    files = [str(digits / "0_ann_0.wav"), str(digits / "2_cy_3.wav")]
    capsys.readouterr()
    argv = ["speech", "predict", "--checkpoint", str(trained), *files, "--backend", "reference"]
    assert main([*argv, "--beam-size", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == files
    assert all(set(line.split("\t")[1]) <= set("0123456789") for line in lines)


def test_transcribe_takes_paths_and_arrays_alike(trained, digits):
    rec = load_recognizer(trained)
    audio = rec.load_audio(digits / "1_bob_2.wav")
    by_path, by_array = rec.transcribe([digits / "1_bob_2.wav", audio])
    assert by_path == by_array
    with pytest.raises(TypeError, match="list of paths or arrays"):
        rec.transcribe(audio)


def test_evaluate_reports_the_runs_test_split(trained, digits, tmp_path, capsys):
    report = tmp_path / "r.json"
    argv = ["speech", "evaluate", "--checkpoint", str(trained), "--data", str(digits)]
    assert main([*argv, "--report", str(report), "--backend", "reference"]) == 0
    assert "isolated" in capsys.readouterr().out
    got, saved = json.loads(report.read_text()), json.loads((trained / METRICS_FILE).read_text())
    assert got["isolated"]["accuracy"] == saved["isolated"]["accuracy"]  # the same test split
    assert got["connected"]["wer"] == saved["connected"]["wer"]


def _weights(path):
    return load_checkpoint(path / LAST)["model"]


def test_resume_continues_exactly_like_an_unbroken_run(digits, tmp_path):
    # constant rate (the cosine schedule depends on the total); dropout and SpecAugment draw
    extra = ("--schedule", "constant", "--warmup", "0", "--save-every", "3", "--join", "2")
    extra += ("--eval-every", "3", "--dropout", "0.3")
    assert main(train_args(digits, tmp_path / "full", "--steps", "6", *extra)) == 0
    assert main(train_args(digits, tmp_path / "cut", "--steps", "3", *extra)) == 0
    assert main(train_args(digits, tmp_path / "cut", "--steps", "6", "--resume", *extra)) == 0
    full, resumed = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(resumed[k], v) for k, v in full.items())


def test_streaming_equals_offline(streaming, digits, capsys):
    rec = load_recognizer(streaming)
    audio = np.concatenate([chirp(2, 0, 9), np.zeros(400, np.float32), chirp(1, 1, 9)])
    offline_lp = rec.model(*rec.features.batch([audio]))[0][0].detach()
    for chunk_ms, beam in ((10, 1), (37, 1), (250, 3)):
        stream = rec.stream(beam)
        step = int(RATE * chunk_ms / 1000)
        for start in range(0, len(audio), step):
            stream.feed(audio[start : start + step])
        assert stream.finish() == rec.transcribe([audio], beam)[0]
    # the frame-wise log-probabilities agree: 10 frames from the first 1000 samples (hop 80)
    lp, state = rec.model.stream(rec.features(torch.from_numpy(audio[:1000])[None]), None)
    rest, _ = rec.model.stream(rec.features(torch.from_numpy(audio[800:])[None]), state)
    assert torch.allclose(torch.cat([lp, rest], 1)[0], offline_lp, atol=1e-5)
    capsys.readouterr()
    wav = str(digits / "2_ann_1.wav")
    argv = ["speech", "predict", "--checkpoint", str(streaming), "--backend", "reference", wav]
    assert main(argv) == 0
    offline = capsys.readouterr().out.splitlines()[-1]
    assert main([*argv, "--stream", "--chunk-ms", "20"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == offline and "real-time factor" in captured.err


def test_stream_refuses_a_bidirectional_model(trained, digits, capsys):
    argv = ["speech", "predict", "--checkpoint", str(trained), "--stream"]
    assert main([*argv, str(digits / "0_ann_0.wav")]) == 2
    assert "--no-bidirectional --normalize global" in capsys.readouterr().err


@pytest.mark.slow
def test_a_small_model_learns_the_chirps(digits, tmp_path):
    out = tmp_path / "learn"
    argv = train_args(digits, out, "--steps", "200", "--eval-every", "100", "--lr", "0.01")
    argv += ["--join", "3", "--hidden", "32", "--warmup", "20", "--batch-size", "16"]
    assert main([*argv, "--no-spec-augment", "--dropout", "0"]) == 0
    report = json.loads((out / METRICS_FILE).read_text())
    assert report["isolated"]["accuracy"] >= 0.6 and report["connected"]["wer"] <= 0.4
