"""Rules alone: recall and false-positive rate on the real dev set (as written and without
diacritics), and the share of real job-board postings flagged.

Reads ../shared/data (not part of the project); skips with a message where it is absent.
Usage: python benchmarks/rules_accuracy.py [--show-fp N] [--show-fn]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
BOARDS = ["topcv", "vietnamworks", "careerviet", "facebook_it_groups"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show-fp", type=int, default=0, help="print N flagged real postings")
    ap.add_argument("--show-fn", action="store_true", help="print missed risky dev items")
    ap.add_argument("--with-model", action="store_true", help="use the shipped classifier too")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent (real data is not shipped with the project)")
        return 0
    from screening.screener import Screener
    from screening.text import fold
    from training.data import posting_text

    s = Screener.load(model=None if args.with_model else False)
    print(f"rules {s.catalogue.version}, model {s.versions['model']}")
    dev = [json.loads(line) for line in (DATA / "labelled" / "real_quotes_dev.jsonl").open(encoding="utf-8")]
    for variant, fn in (("as written", lambda t: t), ("without diacritics", fold)):
        tp = fp = pos = neg = 0
        missed = []
        for d in dev:
            a = s.screen(fn(d["text"]))
            if d["label"] == "risky":
                pos += 1
                tp += a.flagged
                if not a.flagged:
                    missed.append(d)
            else:
                neg += 1
                fp += a.flagged
        print(f"dev {variant:<20} recall {tp}/{pos} = {tp / pos:.3f}   false positives {fp}/{neg} = {fp / neg:.3f}")
        if args.show_fn and variant == "as written":
            for d in missed:
                print("   MISSED:", d["text"][:160].replace("\n", " "))
    total = flagged = 0
    per_board = {}
    inds = Counter()
    fps = []
    t0 = time.perf_counter()
    for board in BOARDS:
        n = f = 0
        for line in (DATA / "postings" / f"{board}.jsonl").open(encoding="utf-8"):
            rec = json.loads(line)
            text = posting_text(rec)
            if not text.strip():
                continue
            a = s.screen(text, title=rec.get("title"), company=rec.get("company"))
            n += 1
            if a.flagged:
                f += 1
                inds.update(h.indicator for h in a.counted_hits)
                fps.append((board, a))
        per_board[board] = (f, n)
        total += n
        flagged += f
    dt = time.perf_counter() - t0
    print(f"real postings flagged: {flagged}/{total} = {flagged / total:.3%}  ({total / dt:.0f} postings/s, one core)")
    for b, (f, n) in per_board.items():
        print(f"   {b:<20} {f}/{n} = {f / max(n, 1):.2%}")
    if inds:
        print("   indicators on flagged postings:", dict(inds.most_common()))
    for board, a in fps[: args.show_fp]:
        ev = [(h.indicator, [e.text for e in h.evidence][:2]) for h in a.counted_hits]
        print(f"   FP {board}: {ev}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
