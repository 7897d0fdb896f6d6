"""Hostile input: prints how long screening takes for large and adversarial texts.

Every pattern of the catalogue (and every extraction pattern) is run against runs built to
make patterns backtrack; cost should grow linearly with length and stay well under a second.
Usage: python benchmarks/hostile.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def cases(catalogue, n: int = 200_000) -> dict[str, str]:
    """Name → text: large, adversarial and per-indicator runs of about ``n`` characters (the
    tests use the same cases, shorter)."""
    out = {
        "2 MB ordinary Vietnamese": ("Tuyển công nhân may, lương 9 triệu/tháng, bao ăn ở, liên hệ 0912 345 678. " * 30000)[:10 * n],
        "200k letters, no spaces": "a" * n,
        "200k upper letters": "A" * n,
        "200k digits": "9" * n,
        "200k dotted digits": "1." * (n // 2),
        "200k dotted letters": "a." * (n // 2),
        "200k spaced letters": "a " * (n // 2),
        "200k email-like": "a.b" * (n // 3),
        "200k @@@": "@a" * (n // 2),
        "200k dashes and digits": "1-" * (n // 2),
        "200k emoji": "🔥" * n,
        "200k combining marks": "a\u0301" * (n // 2),
        "200k zero-width": "\u200b" * n,
        "200k 'zalo '": "zalo " * (n // 5),
        "200k 'công ty '": "công ty " * (n // 8),
        "200k newlines": "\n" * n,
        "200k unclosed tags": "<b" * (n // 2),
        "200k tags": "<b>x</b>" * (n // 8),
        "200k entities": "&nbsp;&amp" * (n // 10),
        "200k bidi and controls": "\u202e\x00\x07\u2066a" * (n // 5),
    }
    # every pattern's words repeated, with gaps that almost match
    for ind in catalogue.indicators.values():
        words = " ".join(sorted({w for p in ind.patterns for w in p.words}))
        if words:
            out[f"200k of {ind.id}'s pattern words"] = (words + " ") * (n // (len(words) + 1) + 1)
    return out


def main() -> int:
    from screening.screener import Screener

    s = Screener.load(model=None)
    worst = 0.0
    for name, text in cases(s.catalogue).items():
        t0 = time.perf_counter()
        s.screen(text)
        dt = time.perf_counter() - t0
        worst = max(worst, dt)
        print(f"{dt * 1000:9.1f} ms  {len(text):>9,} chars  {name}")
    print(f"worst: {worst:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
