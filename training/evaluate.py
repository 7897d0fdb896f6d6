"""Evaluation in one run: ``python -m training.evaluate``.

For the naive keyword baseline, the rules alone and rules + classifier, prints PR-AUC, recall at
1% and 5% false-positive rate, recall and false-positive rate at the shipped threshold, and
per-indicator precision on the grouped test split; the same on the real development set (as
written and without diacritics; measured on, never trained on); and the share of held-out real
postings that are flagged.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any, Callable

import numpy as np

from training.data import SHARED, Example, log, real_quote_examples

# A keyword filter of the kind the classifier has to beat: any of these words flags the ad.
KEYWORDS = (
    "việc nhẹ lương cao", "lương cao", "không cần kinh nghiệm", "bao ăn ở", "xuất khẩu lao động",
    "campuchia", "đặt cọc", "phí", "visa", "hộ chiếu", "zalo", "telegram", "đi nhật", "đài loan",
    "hàn quốc", "tuyển gấp",
)


def keyword_score(text: str) -> float:
    from screening.text import fold

    f = fold(text)
    return float(sum(fold(k) in f for k in KEYWORDS))


def _recall_at_fpr(y: np.ndarray, s: np.ndarray, fpr_max: float) -> float:
    from sklearn.metrics import roc_curve

    if len(set(y)) < 2:
        return float("nan")
    fpr, tpr, _ = roc_curve(y, s)
    ok = tpr[fpr <= fpr_max]
    return float(ok.max()) if len(ok) else 0.0


def metrics(y: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score

    pos, neg = y == 1, y == 0
    return {
        "n": int(len(y)),
        "pr_auc": round(float(average_precision_score(y, scores)), 4) if pos.any() and neg.any() else float("nan"),
        "recall_at_1pct_fpr": round(_recall_at_fpr(y, scores, 0.01), 4),
        "recall_at_5pct_fpr": round(_recall_at_fpr(y, scores, 0.05), 4),
        "recall": round(float(flagged[pos].mean()), 4) if pos.any() else float("nan"),
        "fpr": round(float(flagged[neg].mean()), 4) if neg.any() else float("nan"),
    }


class Systems:
    """The three systems compared, each giving (score, flagged) for a text."""

    def __init__(self, rules, pipe):
        self.rules = rules
        self.pipe = pipe

    def run(self, texts: list[str], recs: list[dict] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray, list]]:
        from screening.score import score

        scoring = self.rules.catalogue.scoring
        kw = np.array([keyword_score(t) for t in texts])
        hits_all = [self.rules.analyze_rules(t)[0] for t in texts]
        r = [score(h, None, scoring) for h in hits_all]
        if recs is None:
            recs = [self.rules.record(t) for t in texts]
        out = {
            "keywords": (kw, kw >= 1, hits_all),
            "rules": (np.array([x[0] for x in r]), np.array([x[2] for x in r]), hits_all),
        }
        if self.pipe is not None:
            p = self.pipe.predict_proba(recs)[:, 1]
            rc = [score(h, pi, scoring) for h, pi in zip(hits_all, p)]
            out["rules+classifier"] = (np.array([x[0] for x in rc]), np.array([x[2] for x in rc]), hits_all)
            out["classifier_p"] = (p, p >= 0.5, hits_all)
        return out


def per_indicator_precision(y: np.ndarray, hits_all: list) -> dict[str, dict[str, float]]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for label, hits in zip(y, hits_all):
        for ind in {h.indicator for h in hits if h.counted}:
            tally[ind][0] += int(label == 1)
            tally[ind][1] += 1
    return {k: {"precision": round(a / n, 3), "hits": n} for k, (a, n) in sorted(tally.items())}


def evaluate_model(pipe, rules, test_examples: list[Example], test_recs: list[dict], heldout_postings: list[Example]) -> dict[str, Any]:
    from screening.text import fold

    sysm = Systems(rules, pipe)
    res: dict[str, Any] = {}
    y = np.array([e.label for e in test_examples])
    runs = sysm.run([e.text for e in test_examples], test_recs)
    res["test_split"] = {name: metrics(y, s, f) for name, (s, f, _) in runs.items()}
    res["test_split"]["per_indicator_precision"] = per_indicator_precision(y, runs["rules"][2])
    dev = real_quote_examples("real_quotes_dev.jsonl")
    if dev:
        yd = np.array([e.label for e in dev])
        for variant, fn in (("dev", lambda t: t), ("dev_without_diacritics", fold)):
            r = sysm.run([fn(e.text) for e in dev])
            res[variant] = {name: metrics(yd, s, f) for name, (s, f, _) in r.items()}
    if heldout_postings:
        texts = [e.text for e in heldout_postings]
        r = sysm.run(texts)
        res["heldout_postings_flagged"] = {name: round(float(f.mean()), 4) for name, (_, f, _) in r.items()}
        by_board: dict[str, dict[str, float]] = {}
        for board in sorted({e.source for e in heldout_postings}):
            idx = [i for i, e in enumerate(heldout_postings) if e.source == board]
            by_board[board] = {name: round(float(f[idx].mean()), 4) for name, (_, f, _) in r.items()}
        res["heldout_postings_flagged_by_board"] = by_board
        res["heldout_postings_n"] = len(texts)
    return res


def print_report(res: dict[str, Any], out: Callable[[str], None] = print) -> None:
    for section in ("test_split", "dev", "dev_without_diacritics"):
        if section not in res:
            continue
        out(f"\n== {section} ==")
        out(f"{'system':<18}{'n':>6}{'PR-AUC':>9}{'R@1%FPR':>9}{'R@5%FPR':>9}{'recall':>9}{'FPR':>8}")
        for name, m in res[section].items():
            if name == "per_indicator_precision":
                continue
            out(f"{name:<18}{m['n']:>6}{m['pr_auc']:>9.3f}{m['recall_at_1pct_fpr']:>9.3f}{m['recall_at_5pct_fpr']:>9.3f}{m['recall']:>9.3f}{m['fpr']:>8.3f}")
    if "per_indicator_precision" in res.get("test_split", {}):
        out("\nper-indicator precision (rules, test split):")
        for k, v in res["test_split"]["per_indicator_precision"].items():
            out(f"  {k:<28} {v['precision']:.3f}  ({v['hits']} hits)")
    if "heldout_postings_flagged" in res:
        out(f"\nheld-out real postings flagged (n={res['heldout_postings_n']}): {json.dumps(res['heldout_postings_flagged'])}")
        for b, v in res["heldout_postings_flagged_by_board"].items():
            out(f"  {b:<20} {json.dumps(v)}")


def main() -> int:
    from screening.screener import Screener
    from training.train import assemble

    full = Screener.load()
    if full.classifier is None:
        log("no shipped model (models/CURRENT): evaluating rules and keywords only")
    rules = Screener(full.catalogue, None)
    if not SHARED.is_dir():
        log(f"note: {SHARED} is absent: real data is skipped, only our corpus is measured")
    ds = assemble(rules)
    te = ds["te"]
    pipe = full.classifier.pipeline if full.classifier is not None else None
    res = evaluate_model(pipe, rules, [ds["examples"][i] for i in te], [ds["recs"][i] for i in te], ds["heldout_postings"])
    print_report(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
