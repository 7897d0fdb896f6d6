"""What the classifier adds to the screen of a median posting, and what underthesea's word
segmentation would cost on the same texts (the reason the features use folded syllable
n-grams instead). Prints figures; run: python benchmarks/classifier_cost.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sample_texts(n: int = 400) -> list[str]:
    data = ROOT.parent / "shared" / "data" / "postings"
    texts: list[str] = []
    if data.is_dir():
        from training.data import posting_text

        for board in ("topcv", "vietnamworks", "careerviet", "facebook_it_groups"):
            with (data / f"{board}.jsonl").open(encoding="utf-8") as fh:
                for i, line in enumerate(fh):
                    if i >= n // 4:
                        break
                    t = posting_text(json.loads(line))
                    if t.strip():
                        texts.append(t)
    else:
        print("note: ../shared/data is absent; using the seed corpus")
        for p in sorted((ROOT / "training" / "corpus").glob("*.jsonl")):
            texts += [json.loads(line)["text"] for line in p.open(encoding="utf-8")][: n // 4]
    return texts


def per_text_ms(fn, texts: list[str], repeat: int = 3) -> list[float]:
    out = []
    for t in texts:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn(t)
            best = min(best, time.perf_counter() - t0)
        out.append(best * 1000)
    return out


def main() -> int:
    from screening.screener import Screener

    full = Screener.load()
    if full.classifier is None:
        print("no shipped model: nothing to measure")
        return 0
    rules = Screener(full.catalogue, None)
    texts = sample_texts()
    lengths = sorted(len(t) for t in texts)
    median_len = lengths[len(lengths) // 2]
    # What the classifier adds to a screen: its prediction from the record the screener has
    # already made. Timed directly (best of 5 per posting), not as a difference of two screens.
    recs = [full.record(t) for t in texts]
    r = per_text_ms(rules.screen, texts)
    added = per_text_ms(full.classifier.predict_record, recs, repeat=5)
    print(f"{len(texts)} postings, median length {median_len} characters")
    print(f"rules only     : median {statistics.median(r):.3f} ms/posting")
    print(f"classifier adds: median {statistics.median(added):.3f} ms/posting (p90 {sorted(added)[int(0.9 * len(added))]:.3f} ms)")
    try:
        from underthesea import word_tokenize

        word_tokenize(texts[0])
        u = per_text_ms(word_tokenize, texts[:100], repeat=1)
        print(f"underthesea word_tokenize alone: median {statistics.median(u):.3f} ms/posting "
              f"({statistics.median(u) / statistics.median(added):.0f}× the classifier's cost)")
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
