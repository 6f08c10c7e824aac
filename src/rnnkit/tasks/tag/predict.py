"""Using a trained tagger: ``load_tagger(path).tag(texts)``, ``rnnkit tag predict`` and
``rnnkit tag evaluate``.

The checkpoint holds everything needed (config, weights, vocabularies), so a run directory
(best.pt, else last.pt) or a .pt file is all it takes:

    >>> tagger = load_tagger("runs/tag")  # doctest: skip
    >>> tagger.tag(["中共中央总书记江泽民发表讲话"])[0]["entities"]  # doctest: skip
    [{'type': 'ORG', 'start': 0, 'end': 4, 'text': '中共中央'}, ...]

A text is cut into tokens as the model was trained: characters (spaces dropped) for a
character-level model, else words and punctuation marks apart ("Hi, Bo." is Hi , Bo .); a
list of tokens is taken as it is.
Entity and word spans carry character offsets into the text: ``text[start:end]``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import torch

from ...data.files import read_text_lines
from ...errors import CheckpointError, RnnkitError
from ...train.recipe import load_task_checkpoint
from ..classify.metrics import write_json
from .config import TagConfig
from .data import Vocabularies, encode
from .formats import read_tagged
from .metrics import format_report
from .model import SequenceTagger
from .run import assemble_splits, build_model, load_parts, prepare_tags, split_report
from .schemes import entity_spans, word_spans
from .task import predict_ids

__all__ = ["Tagger", "evaluate", "load_tagger", "predict"]

# a word (inner ' - . kept: don't, e-mail, U.S) or one punctuation mark
_WORD = re.compile(r"\w+(?:['\-.]\w+)*|[^\w\s]")


def _tokens(text: str, level: str) -> tuple[list[str], list[tuple[int, int]]]:
    """(tokens, (start, end) character offsets of each) of ``text`` at ``level``."""
    if level == "char":
        pairs = [(c, i) for i, c in enumerate(text) if not c.isspace()]
        return [c for c, _ in pairs], [(i, i + 1) for _, i in pairs]
    found = list(_WORD.finditer(text))
    return [m.group() for m in found], [m.span() for m in found]


@dataclass
class Tagger:
    """A trained ``SequenceTagger`` with its vocabularies and options (eval mode, CPU)."""

    model: SequenceTagger
    vocab: Vocabularies
    config: TagConfig
    checkpoint: dict[str, Any]

    def tag_tokens(self, sentences: Sequence[Sequence[str]], batch_size: int = 64):
        """The tags (list of str) of each sentence given as tokens."""
        if not sentences:
            return []
        keep = [i for i, s in enumerate(sentences) if len(s)]
        cfg = self.config
        encoded = encode(self.vocab, [sentences[i] for i in keep], None,
                         cfg.char_features != "none", bool(cfg.bigrams))  # fmt: skip
        ids, _ = predict_ids(self.model, encoded, torch.device("cpu"), batch_size)
        out: list[list[str]] = [[] for _ in sentences]
        for i, row in zip(keep, ids):
            out[i] = [self.vocab.tags[t] for t in row]
        return out

    def tag(self, texts: Sequence[str | Sequence[str]], batch_size: int = 64):
        """One dict per text: ``tokens``, ``tags``, and ``entities`` (ner) or ``words``
        (segment) as {"type", "start", "end", "text"} with character offsets (``end``
        exclusive; over the joined tokens for a text given as a token list)."""
        if isinstance(texts, str):
            raise TypeError("tag expects a list of texts; got one str (wrap it in a list)")
        cut = []
        for text in texts:
            if isinstance(text, str):
                cut.append((text, *_tokens(text, self.config.level)))
            else:
                tokens = list(text)
                joined = " ".join(tokens) if self.config.level == "word" else "".join(tokens)
                cut.append((joined, *_tokens(joined, self.config.level)))
        tags = self.tag_tokens([tokens for _, tokens, _ in cut], batch_size)
        return [self._result(text, tokens, offsets, t) for (text, tokens, offsets), t in
                zip(cut, tags)]  # fmt: skip

    def _result(self, text, tokens, offsets, tags) -> dict[str, Any]:
        result: dict[str, Any] = {"text": text, "tokens": tokens, "tags": tags}
        if self.config.task == "ner":
            spans = entity_spans(tags)
        elif self.config.task == "segment":
            spans = [("WORD", a, b) for a, b in word_spans(tags)]
        else:
            return result
        key = "entities" if self.config.task == "ner" else "words"
        result[key] = [
            {"type": kind, "start": offsets[a][0], "end": offsets[b][1],
             "text": text[offsets[a][0] : offsets[b][1]]}
            for kind, a, b in spans
        ]  # fmt: skip
        return result


def load_tagger(path: str | os.PathLike) -> Tagger:
    """The tagger saved in a run directory (best.pt, else last.pt) or a checkpoint file."""
    ckpt, p = load_task_checkpoint(path, "tag")
    try:
        cfg = TagConfig(**ckpt["config"]["tag"])
        vocab = Vocabularies.from_dict(ckpt["vocab"])
        model = build_model(cfg, vocab)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{p} is not a usable tag checkpoint: {first}") from None
    model.eval()
    return Tagger(model, vocab, cfg, ckpt)


def predict(
    checkpoint: str | os.PathLike,
    texts: Sequence[str] = (),
    input_path: str | os.PathLike | None = None,
    output_format: str = "conll",
    out: TextIO | None = None,
) -> list[dict[str, Any]]:
    """Print the tags of ``texts`` or of the lines of ``input_path`` (not both): ``conll``
    lines ``token<TAB>tag`` with a blank line after each text, or ``json`` one object per
    text; returns ``Tagger.tag``'s results."""
    out = out or sys.stdout
    if texts and input_path is not None:
        raise RnnkitError("give texts as arguments or --input FILE, not both")
    if not texts and input_path is None:
        raise RnnkitError("nothing to tag: give texts as arguments or --input FILE")
    if output_format not in ("conll", "json"):
        raise RnnkitError(f"--output-format must be conll or json; got {output_format}")
    tagger = load_tagger(checkpoint)
    if input_path is not None:
        texts = read_text_lines(input_path, "--input")
    results = tagger.tag(list(texts))
    for r in results:
        if output_format == "json":
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            out.write("".join(f"{t}\t{g}\n" for t, g in zip(r["tokens"], r["tags"])) + "\n")
    out.flush()
    return results


def evaluate(
    checkpoint: str | os.PathLike,
    data: str | os.PathLike | None = None,
    fmt: str | None = None,
    tag_column: str | None = None,
    json_path: str | os.PathLike | None = None,
    log=print,
) -> dict[str, Any]:
    """Scores of a trained tagger on the tagged sentences of ``data`` (checked and converted
    as for training), or on the test split of its run's own data; printed, and written to
    ``json_path`` when given."""
    tagger = load_tagger(checkpoint)
    cfg = tagger.config
    if data is None:
        seed = int(tagger.checkpoint.get("train_config", {}).get("seed", 0))
        sentences = assemble_splits(cfg, load_parts(cfg), seed)[2]
    else:
        column = tag_column if tag_column is not None else cfg.tag_column
        raw = read_tagged(data, fmt, column)
        sentences = prepare_tags(raw, cfg, f"--data {data}")
    unknown = sorted({t for s in sentences for t in s.tags} - set(tagger.vocab.tags))
    if unknown:
        raise RnnkitError(f"--data {data}: tags the model does not know: {unknown[:10]}; it "
                          f"knows {', '.join(tagger.vocab.tags[:30])}")  # fmt: skip
    encoded = encode(tagger.vocab, [s.tokens for s in sentences], [s.tags for s in sentences],
                     cfg.char_features != "none", bool(cfg.bigrams))  # fmt: skip
    gold = [s.tags for s in sentences]
    report = split_report(tagger.model, cfg.task, encoded, gold, tagger.vocab.tags,
                          torch.device("cpu"))  # fmt: skip
    report["sentences"] = len(sentences)
    log(f"{len(sentences):,} sentences, {int(encoded.lengths.sum()):,} tokens:")
    log(format_report(report))
    if json_path is not None:
        write_json(json_path, report)
    return report
