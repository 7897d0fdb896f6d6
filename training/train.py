"""Rebuild the shipped classifier: ``python -m training.train [--version V] [--reviews FILE]``.

Reproducible: fixed seeds, grouped splits (by corpus family, source article, or posting firm /
text head), one scikit-learn Pipeline (features → calibrated logistic regression). The model is
saved with joblib under models/<version>/ with metadata.json (sha256 of the file, hashes of the
training data, library versions, metrics) and MODEL_CARD.md; models/CURRENT names it.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
from collections import Counter
from pathlib import Path

import numpy as np

from training.data import (
    OTHER_BOARDS,
    ROOT,
    TARGET_BOARDS,
    Example,
    corpus_examples,
    data_hashes,
    log,
    posting_examples,
    real_quote_examples,
    source_files,
)

SEED = 0
MODELS = ROOT / "models"


def split_groups(groups: list[str], test_size: float, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import GroupShuffleSplit

    gss = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    tr, te = next(gss.split(np.zeros(len(groups)), groups=groups))
    return tr, te


def records(screener, examples: list[Example]) -> list[dict]:
    """The classifier's inputs, made exactly as the screener makes them at prediction time."""
    return [screener.record(ex.text) for ex in examples]


def review_examples(path: Path) -> list[Example]:
    """Decisions recorded in the service (GET /v1/export?format=jsonl): confirmed → risky,
    dismissed → ordinary; other decisions are left out."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except ValueError as exc:
                raise SystemExit(f"{path}:{n}: not valid JSON ({exc.msg})") from None
            label = d.get("label")
            if label not in (0, 1):
                status = d.get("status") or d.get("decision")
                label = {"confirmed": 1, "dismissed": 0}.get(status)
            if label is None or not d.get("text"):
                continue  # escalated, needs_info or open: no label yet
            ident = d.get("posting_id", d.get("flag_id", n))
            out.append(Example(d["text"], int(label), f"review:{ident}", "reviews", f"review:{ident}"))
    return out


def build_pipeline(indicators: tuple[str, ...], cv, chars: bool = True):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from screening.features import make_features

    lr = LogisticRegression(C=4.0, class_weight="balanced", max_iter=5000, random_state=SEED)
    return Pipeline([
        ("features", make_features(indicators, chars=chars)),
        ("clf", CalibratedClassifierCV(lr, method="sigmoid", cv=cv)),
    ])


def weak_label(screener, examples: list[Example]) -> tuple[list[Example], Counter]:
    """Real postings are the ordinary class, except where the rules fire strongly: two high
    signs or a critical one make a weak 'risky' label; a flagged posting short of that is left
    out (neither label can be trusted without a human)."""
    kept, stats = [], Counter()
    for ex in examples:
        a = screener.screen(ex.text)
        if a.risk_score >= 0.84 or any(h.severity == "critical" for h in a.counted_hits):
            kept.append(Example(ex.text, 1, ex.group, ex.source, ex.id, ex.lang))
            stats["weak_risky"] += 1
        elif a.flagged:
            stats["left_out_flagged"] += 1
        else:
            kept.append(ex)
            stats["ordinary"] += 1
    return kept, stats


def label_issues(pipeline_factory, recs, y, groups, k: int = 5) -> dict:
    """Out-of-fold probabilities: risky items the model finds very unlikely and ordinary items
    it finds very likely are listed (by id) for a human to look at."""
    from sklearn.model_selection import GroupKFold

    oof = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=k).split(recs, y, groups):
        inner = list(GroupKFold(n_splits=3).split([recs[i] for i in tr], y[tr], [groups[i] for i in tr]))
        pipe = pipeline_factory(inner)
        pipe.fit([recs[i] for i in tr], y[tr])
        oof[te] = pipe.predict_proba([recs[i] for i in te])[:, 1]
    return {"oof": oof}


def assemble(rules, reviews_path: Path | None = None) -> dict:
    """The labelled examples, their records (text + rule hits), the grouped train/test split and
    the held-out half of the target boards' postings. Deterministic."""
    corpus = corpus_examples()
    quotes = real_quote_examples()
    target = posting_examples(TARGET_BOARDS)
    other = posting_examples(OTHER_BOARDS)
    reviews = review_examples(reviews_path) if reviews_path else []
    log(f"corpus {len(corpus)} (risky {sum(e.label for e in corpus)}), real quotes {len(quotes)}, "
        f"target-board postings {len(target)}, other postings {len(other)}, reviews {len(reviews)}")
    # Half of the target boards' postings (by group) are held out to measure the flagged share.
    heldout_postings: list[Example] = []
    train_postings = list(other)
    if target:
        ptr, pte = split_groups([e.group for e in target], test_size=0.5)
        train_postings += [target[i] for i in ptr]
        heldout_postings = [target[i] for i in pte]
    weak, weak_stats = weak_label(rules, train_postings)
    log(f"weak labels on postings: {dict(weak_stats)}")
    examples = corpus + quotes + weak + reviews
    y = np.array([e.label for e in examples])
    groups = [e.group for e in examples]
    recs = records(rules, examples)
    tr, te = split_groups(groups, test_size=0.2)
    log(f"train {len(tr)} (risky {int(y[tr].sum())}), test {len(te)} (risky {int(y[te].sum())}), grouped")
    return {"examples": examples, "recs": recs, "y": y, "groups": groups, "tr": tr, "te": te,
            "heldout_postings": heldout_postings, "corpus": corpus, "quotes": quotes, "weak": weak,
            "reviews": reviews, "weak_stats": weak_stats}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--version", default="clf-v1")
    ap.add_argument("--reviews", type=Path, help="JSONL export of reviewed items from the service")
    ap.add_argument("--no-label-check", action="store_true", help="skip the out-of-fold label review")
    ap.add_argument("--no-chars", action="store_true", help="word n-grams and rule hits only (no character n-grams)")
    args = ap.parse_args(argv)
    random.seed(SEED)
    np.random.seed(SEED)

    from sklearn.model_selection import GroupKFold

    from screening.screener import Screener

    rules = Screener.load(model=False)
    indicators = tuple(sorted(rules.catalogue.indicators))

    ds = assemble(rules, reviews_path=args.reviews)
    examples, recs, y, groups, tr, te = ds["examples"], ds["recs"], ds["y"], ds["groups"], ds["tr"], ds["te"]
    heldout_postings = ds["heldout_postings"]
    corpus, quotes, weak, reviews = ds["corpus"], ds["quotes"], ds["weak"], ds["reviews"]
    weak_stats = ds["weak_stats"]

    def factory(cv):
        return build_pipeline(indicators, cv, chars=not args.no_chars)

    report: dict = {"weak_labels": dict(weak_stats)}
    if not args.no_label_check:
        issues = label_issues(factory, [recs[i] for i in tr], y[tr], [groups[i] for i in tr])
        oof = issues["oof"]
        sus_risky = [examples[tr[i]].id for i in range(len(tr)) if y[tr][i] == 1 and oof[i] < 0.1]
        sus_ord = [examples[tr[i]].id for i in range(len(tr)) if y[tr][i] == 0 and oof[i] > 0.9]
        report["label_review"] = {"risky_with_p_below_0.1": sus_risky, "ordinary_with_p_above_0.9": sus_ord}
        log(f"label review: {len(sus_risky)} risky items with p<0.1, {len(sus_ord)} ordinary with p>0.9 (ids in metadata)")

    train_recs = [recs[i] for i in tr]
    folds = list(GroupKFold(n_splits=5).split(train_recs, y[tr], [groups[i] for i in tr]))
    pipe = factory(folds)
    pipe.fit(train_recs, y[tr])

    from training.evaluate import evaluate_model

    metrics = evaluate_model(pipe, rules, [examples[i] for i in te], [recs[i] for i in te], heldout_postings)
    out_dir = MODELS / args.version
    out_dir.mkdir(parents=True, exist_ok=True)
    import joblib
    import sklearn
    import spacy

    model_path = out_dir / "model.joblib"
    joblib.dump(pipe, model_path, compress=3)
    from screening.classify import sha256_file

    from screening.classify import Classifier
    from screening.screener import Screener as _S
    from training.card import measure_cost

    probe = _S(rules.catalogue, Classifier(pipe, {"version": args.version}))
    cost_texts = [e.text for e in heldout_postings[:300]] or [examples[i].text for i in te[:300]]
    cost = measure_cost(probe, cost_texts)
    log(f"cost: {cost}")
    meta = {
        "version": args.version,
        "sha256": sha256_file(model_path),
        "created_by": "python -m training.train",
        "seed": SEED,
        "rules_version": rules.catalogue.version,
        "data": data_hashes(source_files() + ([args.reviews] if args.reviews else [])),
        "counts": {
            "corpus": len(corpus), "real_quotes": len(quotes), "postings_train": len(weak), "reviews": len(reviews),
            "train": int(len(tr)), "test": int(len(te)), "heldout_postings": len(heldout_postings),
        },
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
                      "spacy": spacy.__version__, "joblib": joblib.__version__},
        "metrics": metrics,
        "cost": cost,
        "report": report,
    }
    (out_dir / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (MODELS / "CURRENT").write_text(args.version + "\n", encoding="utf-8")
    from training.card import write_card

    write_card(out_dir, meta)
    log(f"saved {model_path} ({model_path.stat().st_size / 1e6:.1f} MB), sha256 {meta['sha256'][:12]}…")
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
