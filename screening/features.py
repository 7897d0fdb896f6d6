"""Features of the text classifier, as scikit-learn transformers (importable, so a model file
refers to them by name). The classifier reads records ``{"text": str, "hits": [(id, severity)]}``
so the rule hits the screener has already computed are features too, not recomputed.

- syllable n-grams on the folded, shorthand-expanded words (``screening.text.words``): the way
  Vietnamese is written online, with or without diacritics;
- character n-grams on the folded text (robust to misspellings and glued words);
- the rule hits, weighted by severity.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import chain
from typing import Any, Iterable

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from .text import fold, words

__all__ = ["make_record", "record_words", "record_folded", "RuleHitFeatures", "TextField", "make_features"]

SEVERITY_VALUE = {"low": 0.25, "medium": 0.5, "high": 1.0, "critical": 1.0}
MAX_CHARS = 2000  # features read the head of an ad (a posting of median length whole); the rules read all of it


def make_record(text: str, hits: Any = (), tokens: Any = None, folded: str | None = None) -> dict[str, Any]:
    """The classifier's input for one ad. The screener passes the tokens and folded text it has
    already made, so nothing is normalised twice; training builds records the same way."""
    if tokens is None or folded is None:
        from .text import shadow, tokenize

        sh = shadow(text[:MAX_CHARS])
        tokens, folded = tokenize(sh), sh.text
    return {
        "text": text,
        "hits": [(h.indicator, h.severity) for h in hits if h.counted],
        "words": " ".join([t.norm for t in tokens if t.kind == "word" and t.start < MAX_CHARS]),
        "folded": folded[:MAX_CHARS],
    }


def record_words(rec: Any) -> str:
    if isinstance(rec, dict) and "words" in rec:
        return rec["words"]
    text = rec["text"] if isinstance(rec, dict) else str(rec)
    return " ".join(w for w in words(text[:MAX_CHARS]) if w != "<num>")


def record_folded(rec: Any) -> str:
    if isinstance(rec, dict) and "folded" in rec:
        return rec["folded"]
    text = rec["text"] if isinstance(rec, dict) else str(rec)
    return fold(text[:MAX_CHARS])


class TextField(BaseEstimator, TransformerMixin):
    """Maps records to one string each with a named function (kept by name for pickling)."""

    def __init__(self, field: str = "words"):
        self.field = field

    def fit(self, X: Iterable[Any], y: Any = None) -> "TextField":
        return self

    def transform(self, X: Iterable[Any]) -> list[str]:
        fn = record_words if self.field == "words" else record_folded
        return [fn(r) for r in X]


class RuleHitFeatures(BaseEstimator, TransformerMixin):
    """One column per indicator id, valued by the severity of its hit (0 when absent)."""

    def __init__(self, indicators: tuple[str, ...] = ()):
        self.indicators = indicators

    def fit(self, X: Iterable[Any], y: Any = None) -> "RuleHitFeatures":
        self.index_ = {ind: i for i, ind in enumerate(self.indicators)}
        return self

    def transform(self, X: Iterable[Any]) -> sparse.csr_matrix:
        rows, cols, vals = [], [], []
        n = 0
        for i, rec in enumerate(X):
            n = i + 1
            hits = rec.get("hits", ()) if isinstance(rec, dict) else ()
            for ind, sev in hits:
                j = self.index_.get(ind)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
                    vals.append(SEVERITY_VALUE.get(sev, 0.5))
        return sparse.csr_matrix((vals, (rows, cols)), shape=(n, len(self.index_)), dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([f"rule:{i}" for i in self.indicators], dtype=object)


CHAR_CHARS = 200  # character n-grams read the head of the ad (the headline, where lures sit): they cost the most per character


def word_grams(doc: str) -> list[str]:
    """Syllable unigrams and bigrams of the normalised words."""
    toks = doc.split()
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]


def char_grams(doc: str) -> list[str]:
    """Character 2-4-grams inside word boundaries, of the head: each word padded with a space
    and cut into its 2-, 3- and 4-grams (the n-grams of the text with the words two spaces
    apart, none straddling two words). A word's n-grams are cached: words repeat across ads."""
    return list(chain.from_iterable(map(_padded_grams, doc[:CHAR_CHARS].split())))


@lru_cache(maxsize=131072)
def _padded_grams(word: str) -> tuple[str, ...]:
    p = " " + word + " "
    return tuple(p[i:i + n] for n in (2, 3, 4) for i in range(len(p) - n + 1))


def make_features(indicators: tuple[str, ...], *, chars: bool = True, max_features: int = 40000) -> FeatureUnion:
    words_vec = Pipeline([
        ("field", TextField("words")),
        ("tfidf", TfidfVectorizer(analyzer=word_grams, min_df=2, sublinear_tf=True, max_features=max_features, dtype=np.float32)),
    ])
    chars_vec = Pipeline([
        ("field", TextField("folded")),
        ("tfidf", TfidfVectorizer(analyzer=char_grams, min_df=3, sublinear_tf=True, max_features=max_features, dtype=np.float32)),
    ])
    blocks = [("words", words_vec)] + ([("chars", chars_vec)] if chars else []) + [("rules", RuleHitFeatures(indicators))]
    return FeatureUnion(blocks)
