"""Decoding speed of a translate model in onnxruntime (the two graphs of
``rnnkit.export_translate``: greedy by ``greedy_onnx``, beam 5 by the recipe's beam search
through ``OnnxSeq2Seq``) against eager rnnkit (``translate_texts``): sources per second at
batch 1 and 64, one thread each, back to back.

    python benchmarks/translate_onnx.py [runs/translate] [--sources 640] [--threads 1]

With a run directory: its model and the first ``--sources`` distinct validation words of its
split, decoded to their end. Without: random weights in the default model's shape
(``TranslateConfig()``; on 2026-12-07 a bi-LSTM 256+256, LSTM decoder 512, luong-general,
embed 64) on CMUdict words, every source decoded for
``--max-length`` steps (8: a trained model writes about 7 phonemes and <eos> for a CMUdict
word; random weights would run to the length limit). Both sides must write the same tokens.
Prints sources/s by wall time and by the process's CPU time (a shared machine).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import onnxruntime
import torch

from rnnkit.export_translate import OnnxSeq2Seq, export_translator, greedy_onnx
from rnnkit.tasks.translate import (
    SeqVocab,
    TranslateConfig,
    beam_search,
    build_model,
    load_cmudict,
    load_translator,
    translate_texts,
)
from rnnkit.tasks.translate.vocab import encode_batch


def _model(args):
    """(model, source vocabulary, target vocabulary, source words, max_length)."""
    if args.checkpoint:
        t = load_translator(args.checkpoint)
        from translate_decoding import sources  # the run's own split (benchmarks/)

        return t.model, t.src_vocab, t.tgt_vocab, sources(t, args.sources), None
    pairs = load_cmudict()
    words = list(dict.fromkeys(s for s, _ in pairs))  # spread over the alphabet
    words = words[:: max(1, len(words) // args.sources)]
    src_vocab = SeqVocab.build([s for s, _ in pairs], "char")
    tgt_vocab = SeqVocab.build([t for _, t in pairs], "space")
    torch.manual_seed(0)
    model = build_model(TranslateConfig(), len(src_vocab), len(tgt_vocab)).eval()
    return model, src_vocab, tgt_vocab, words[: args.sources], args.max_length


def _clocked(fn, *args):
    """(result, wall seconds, process CPU seconds) of ``fn(*args)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?", help="run directory or .pt file (optional)")
    parser.add_argument("--sources", type=int, default=640, help="sources decoded at batch 64")
    parser.add_argument("--batch1-sources", type=int, default=128, help="sources at batch 1")
    parser.add_argument("--max-length", type=int, default=8, help="steps (random weights only)")
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    parser.add_argument("--beam", type=int, default=5, help="the beam of the beam rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, src_vocab, tgt_vocab, words, max_length = _model(args)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    with tempfile.TemporaryDirectory() as folder:
        paths = export_translator(model, Path(folder) / "m.onnx")
        encoder, decoder = (onnxruntime.InferenceSession(str(p), options,
                            providers=["CPUExecutionProvider"]) for p in paths)  # fmt: skip

    def eager(texts, batch, beam):
        rows = batch * beam
        out = translate_texts(model, src_vocab, tgt_vocab, texts, beam, 1, 1.0, max_length, rows)
        return [best[0][0] for best in out]

    def ort(texts, batch, beam):  # translate_texts' batching: sources of similar length together
        order, out = sorted(range(len(texts)), key=lambda i: len(src_vocab.encode(texts[i]))), {}
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            src, lengths = encode_batch(src_vocab, [texts[i] for i in chunk], eos=False)
            if beam == 1:
                ids, _ = greedy_onnx(encoder, decoder, src.numpy(), lengths.numpy(), max_length)
            else:  # the recipe's beam search stepping the graphs
                best = beam_search(searched, src, lengths, beam, 1, 1.0, max_length)
                ids = [b[0].tokens for b in best]
            out.update({i: tgt_vocab.decode(row) for i, row in zip(chunk, ids)})
        return [out[i] for i in range(len(texts))]

    searched = OnnxSeq2Seq(encoder, decoder)
    for beam, batch in ((1, 1), (1, 64), (args.beam, 1), (args.beam, 64)):
        texts = words[: args.batch1_sources if batch == 1 else args.sources]
        result = {"beam": beam, "batch": batch, "sources": len(texts), "threads": args.threads,
                  "hidden": model.decoder.hidden}  # fmt: skip
        outputs = {}
        for name, run in (("eager", eager), ("onnxruntime", ort)):
            run(texts[:batch], batch, beam)  # warm-up
            outputs[name], wall, cpu = _clocked(run, texts, batch, beam)
            result[f"{name}_per_s_wall"] = round(len(texts) / wall, 1)
            result[f"{name}_per_s_cpu"] = round(len(texts) / cpu, 1)
        result["same_outputs"] = outputs["eager"] == outputs["onnxruntime"]
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
