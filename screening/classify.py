"""The classifier wrapper: loads a model version from models/ after checking its hash, and
turns its calibrated probability and the n-grams behind it into a ClassifierResult."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import ModelFileError

__all__ = ["load_classifier", "models_dir", "sha256_file", "Classifier"]


def models_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Classifier:
    """A loaded model: ``pipeline`` is the fitted scikit-learn Pipeline of training/train.py
    (features → calibrated logistic regression), the reference for what the model computes.

    ``predict_record`` computes the same probability from the fitted parameters directly (the
    TF-IDF vocabularies and idf weights, the five calibrated logistic regressions): scikit-learn's
    per-call checks cost far more than the arithmetic for one ad. tests/test_classify.py checks
    that both give the same probability. It also returns the n-grams that pushed the decision
    (feature value × mean coefficient)."""

    def __init__(self, pipeline: Any, metadata: dict[str, Any]):
        import numpy as np

        self.pipeline = pipeline
        self.metadata = metadata
        self.version = metadata.get("version", "unknown")
        features = pipeline.named_steps["features"]
        clf = pipeline.named_steps["clf"]
        self._blocks = []  # (kind, analyzer or index, vocabulary, idf, offset)
        names: list[str] = []
        offset = 0
        for name, step in features.transformer_list:
            if name == "rules":
                self._rules_index = {ind: offset + i for ind, i in step.index_.items()}
                self._rules_values = {"low": 0.25, "medium": 0.5, "high": 1.0, "critical": 1.0}
                names += list(step.get_feature_names_out())
                offset += len(step.index_)
                continue
            vec = step.named_steps["tfidf"]
            field = step.named_steps["field"].field
            analyzer = vec.analyzer if callable(vec.analyzer) else vec.build_analyzer()
            self._blocks.append((field, analyzer, vec.vocabulary_, vec.idf_, offset, vec.sublinear_tf))
            prefix = "" if name == "words" else "~"
            names += [prefix + n for n in vec.get_feature_names_out()]
            offset += len(vec.vocabulary_)
        self._names = names
        cals = clf.calibrated_classifiers_
        self._W = np.stack([c.estimator.coef_[0] for c in cals], axis=1)  # features × models
        self._b = np.array([c.estimator.intercept_[0] for c in cals])
        self._a_cal = np.array([c.calibrators[0].a_ for c in cals])
        self._b_cal = np.array([c.calibrators[0].b_ for c in cals])
        self._coef = self._W.mean(axis=1)

    def _vector(self, rec: dict[str, Any]):
        import numpy as np

        from .features import record_folded, record_words

        idx_parts, val_parts = [], []
        for field, analyzer, vocab, idf, offset, sublinear in self._blocks:
            doc = record_words(rec) if field == "words" else record_folded(rec)
            js = [j for j in map(vocab.get, analyzer(doc)) if j is not None]
            if not js:
                continue
            j_idx, counts = np.unique(np.array(js, dtype=np.int64), return_counts=True)
            tf = counts.astype(np.float64)
            if sublinear:
                tf = np.log(tf) + 1.0
            v = tf * idf[j_idx]
            norm = np.sqrt(v @ v)
            if norm > 0:
                v /= norm
            idx_parts.append(j_idx + offset)
            val_parts.append(v)
        rule_idx = [self._rules_index[ind] for ind, _ in rec.get("hits", ()) if ind in self._rules_index]
        if rule_idx:
            idx_parts.append(np.array(rule_idx, dtype=np.int64))
            val_parts.append(np.array([self._rules_values.get(sev, 0.5) for ind, sev in rec.get("hits", ()) if ind in self._rules_index]))
        if not idx_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(idx_parts), np.concatenate(val_parts)

    def predict_record(self, rec: dict[str, Any]):
        import numpy as np

        from .types import ClassifierResult

        idx, val = self._vector(rec)
        decision = val @ self._W[idx] + self._b if len(idx) else self._b.copy()
        p = float(np.mean(1.0 / (1.0 + np.exp(self._a_cal * decision + self._b_cal))))
        feats: tuple = ()
        if len(idx):
            contrib = val * self._coef[idx]
            top = np.argpartition(-contrib, min(8, len(contrib) - 1))[:8] if len(contrib) > 8 else np.arange(len(contrib))
            top = top[np.argsort(-contrib[top])]
            feats = tuple((self._names[idx[i]], float(contrib[i])) for i in top if contrib[i] > 0)
        return ClassifierResult(p, feats, self.version)

    def predict(self, text: str, hits: Any = ()):
        from .features import make_record

        return self.predict_record(make_record(text, hits))


def _resolve(model: str | Path | None) -> Path | None:
    root = models_dir().resolve()
    if model is None:
        current = root / "CURRENT"
        if not current.exists():
            return None
        model = root / current.read_text(encoding="utf-8").strip()
    path = Path(model).resolve()
    if path.is_file():
        path = path.parent
    if root not in path.parents:
        raise ModelFileError(f"{path}: models are loaded only from {root}")
    return path


def load_classifier(model: str | Path | None = None) -> Classifier | None:
    """Load a model version folder (models/<version>/ with model.joblib and metadata.json).
    The file's sha256 must equal metadata.json's, else ModelFileError; joblib files run code
    when loaded, so nothing else is ever loaded. Returns None when no model is shipped and
    none was asked for."""
    folder = _resolve(model)
    if folder is None:
        return None
    meta_path, model_path = folder / "metadata.json", folder / "model.joblib"
    if not meta_path.exists() or not model_path.exists():
        raise ModelFileError(f"{folder}: needs model.joblib and metadata.json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelFileError(f"{meta_path}: not valid JSON ({exc})") from None
    expected = meta.get("sha256")
    actual = sha256_file(model_path)
    if not expected or expected != actual:
        raise ModelFileError(f"{model_path}: sha256 {actual} does not match metadata ({expected}); refusing to load")
    import joblib

    pipeline = joblib.load(model_path)
    return Classifier(pipeline, meta)
