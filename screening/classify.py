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
    (features → calibrated logistic regression). ``predict`` transforms once and also returns
    the n-grams that pushed the decision (feature value × mean coefficient)."""

    def __init__(self, pipeline: Any, metadata: dict[str, Any]):
        self.pipeline = pipeline
        self.metadata = metadata
        self.version = metadata.get("version", "unknown")
        self._features = pipeline.named_steps["features"]
        self._clf = pipeline.named_steps["clf"]
        import numpy as np

        coefs = [c.estimator.coef_[0] for c in self._clf.calibrated_classifiers_]
        self._coef = np.mean(coefs, axis=0)
        names: list[str] = []
        for name, step in self._features.transformer_list:
            if name == "rules":
                names += list(step.get_feature_names_out())
            else:
                prefix = "" if name == "words" else "~"
                names += [prefix + n for n in step.named_steps["tfidf"].get_feature_names_out()]
        self._names = names

    def predict(self, text: str, hits: Any = ()):
        from .types import ClassifierResult

        rec = {"text": text, "hits": [(h.indicator, h.severity) for h in hits if h.counted]}
        X = self._features.transform([rec])
        p = float(self._clf.predict_proba(X)[0][1])
        row = X.tocsr()
        contrib = row.data * self._coef[row.indices]
        order = contrib.argsort()[::-1][:8]
        feats = tuple((self._names[row.indices[i]], float(contrib[i])) for i in order if contrib[i] > 0)
        return ClassifierResult(p, feats, self.version)


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
