"""Builds the link graph and the near-duplicate groups for the real postings of
../shared/data/postings replicated to N (each copy lightly changed, as reposts are), and prints
time and peak memory at N/4, N/2 and N, so growth can be read.

Usage: python benchmarks/agency_bench.py [--n 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "postings"


def base_texts() -> list[str]:
    from training.data import posting_text

    texts = []
    for board in ("topcv", "vietnamworks", "careerviet", "facebook_it_groups", "itviec", "xkld_sites_2018"):
        with (DATA / f"{board}.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                t = posting_text(rec)
                if t.strip():
                    texts.append("\n".join(x for x in (rec.get("company"), t) if x))
    return texts


def stream(texts: list[str], n: int):
    rng = random.Random(0)
    for i in range(n):
        t = texts[i % len(texts)]
        if i >= len(texts):  # a repost: another phone, a changed line
            t = t + f"\nLiên hệ: 09{rng.randrange(10**8):08d}"
        yield f"p{i}", t


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent")
        return 0
    from screening.extract import extract
    from screening.links import LinkGraph, NearDuplicates, identifiers, shared_identifier_signs
    from screening.text import shadow

    texts = base_texts()
    print(f"{len(texts)} real postings, replicated to {args.n:,}")
    graph, dups = LinkGraph(), NearDuplicates()
    marks = {args.n // 4, args.n // 2, args.n}
    t0 = time.perf_counter()
    for k, (pid, text) in enumerate(stream(texts, args.n), start=1):
        graph.add(pid, identifiers(extract(shadow(text[:20000]))))
        dups.add(pid, text[:20000])
        if k in marks:
            dt = time.perf_counter() - t0
            print(f"{k:>9,} postings: {dt:7.1f} s ({k / dt:,.0f}/s), peak RSS {peak_mb():,.0f} MB, "
                  f"{len(graph.networks()):,} networks, {len(dups.groups()):,} duplicate groups")
    signs = shared_identifier_signs(graph)
    print(f"shared-contact signs: {len(signs):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
