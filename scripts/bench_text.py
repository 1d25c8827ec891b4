"""Benchmark: sentiment and themes for N distinct comments (issue #6: 200k in <= 60 s).

    python -m scripts.bench_text [--comments 200000] [--corpus CSV --column content]

It also times the masking of e-mail addresses and phone numbers on adversarial comments of
80,000 characters (``mask_80k_adversarial_max_s``: the slowest).

The sample company writes the same few phrases again and again, and identical comments are
analysed once, so timing it would flatter the analysis. Here every comment is distinct:
one to three sentences drawn at random from a corpus of real reviews (by default the
Skytrax lounge and seat reviews beside the project, when present), each numbered.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import time
from pathlib import Path

import polars as pl

from cxmetrics.contract import text_analytics
from cxmetrics.contract.text import mask_pii, mask_pii_column

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def sentences(paths: list[Path], column: str) -> list[str]:
    out: list[str] = []
    for path in paths:
        texts = pl.read_csv(path, infer_schema_length=0)[column].drop_nulls().to_list()
        out += [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s) > 10]
    if not out:
        raise SystemExit(f"no sentences in column {column!r} of {', '.join(map(str, paths))}")
    return out


def adversarial(length: int = 80_000) -> dict[str, str]:
    """Comments built to make a backtracking pattern slow: long runs with no "@", many "@"
    with no domain, digits with no end, and addresses glued to each other."""
    return {
        "letters": "a" * length,
        "dotted": "a." * (length // 2),
        "digits": "1" * length,
        "at_signs": "a@" * (length // 2),
        "bare_domains": "@a." * (length // 3),
        "glued_addresses": "a@b." * (length // 4),
        "name_then_ats": "a" * (length // 2) + "@b" * (length // 4),
        "phone_like": "1-" * (length // 2),
    }


def time_adversarial(length: int = 80_000) -> dict[str, float]:
    """Seconds to mask each adversarial comment of ``length`` characters."""
    out = {}
    for name, text in adversarial(length).items():
        t0 = time.perf_counter()
        mask_pii(text)
        out[name] = time.perf_counter() - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comments", type=int, default=200_000)
    parser.add_argument("--corpus", type=Path, action="append")
    parser.add_argument("--column", default="content")
    args = parser.parse_args()
    corpus = args.corpus or sorted(REALDATA.glob("skytrax_*.csv"))
    if not corpus:
        raise SystemExit(f"no corpus: pass --corpus CSV (looked in {REALDATA})")
    pool = sentences(corpus, args.column)
    rng = random.Random(0)
    texts = [
        f"{' '.join(rng.sample(pool, rng.randint(1, 3)))} (#{i})" for i in range(args.comments)
    ]
    frame = pl.DataFrame({"response_id": range(len(texts)), "text": texts})
    t0 = time.perf_counter()
    frame = frame.with_columns(mask_pii_column(frame["text"]))
    mask_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = text_analytics.analyse(frame)
    analyse_s = time.perf_counter() - t0
    hostile = time_adversarial()
    print(
        json.dumps(
            {
                "comments": frame.height,
                "distinct": frame["text"].n_unique(),
                "mean_chars": round(frame["text"].str.len_chars().mean(), 1),
                "mask_s": round(mask_s, 2),
                "mask_80k_adversarial_max_s": round(max(hostile.values()), 3),
                "sentiment_and_themes_s": round(analyse_s, 2),
                "themes": result.themes["theme"].cast(pl.String).to_list(),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
