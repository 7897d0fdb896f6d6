"""The screening chain, one readable pass:

    raw text → shadow + tokens → matches (spaCy) → entities and places → facts
             → hits (negation, context, detectors) → classifier → score → Assessment

``Screener.load()`` reads the catalogue (and the model, when one is given); nothing is read at
import time. One Screener serves any number of ads and threads; it holds no per-ad state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import __version__
from .catalogue import Catalogue
from .extract import extract
from .features import make_record
from .markup import mask_markup, respan
from .rules import RuleEngine
from .score import score
from .text import shadow, tokenize
from .types import Assessment, ClassifierResult, Entity, Span

__all__ = ["Screener", "assessment_to_dict", "HOTLINES"]

HOTLINES = ("111", "1800 6605")
MAX_SCREEN_CHARS = 100_000


class Screener:
    def __init__(self, catalogue: Catalogue, classifier: Any = None):
        self.catalogue = catalogue
        self.engine = RuleEngine(catalogue)
        self.classifier = classifier

    @classmethod
    def load(cls, rules_dir: str | Path | None = None, model: str | Path | None | bool = None) -> "Screener":
        """Load the catalogue and, unless ``model=False``, the classifier: ``model=None`` takes
        the shipped model under models/ when there is one; a path takes that version folder."""
        catalogue = Catalogue.load(rules_dir)
        clf = None
        if model is not False:
            from .classify import load_classifier

            clf = load_classifier(model)
        return cls(catalogue, clf)

    @property
    def versions(self) -> dict[str, str]:
        return {
            "engine": __version__,
            "rules": self.catalogue.version,
            "model": getattr(self.classifier, "version", None) or "none",
        }

    def analyze_rules(self, text: str, extra: tuple[Entity, ...] = ()):
        """The rules half of the chain: (hits, entities, facts). ``extra`` entities (a company
        given in its own field) count as if extracted."""
        hits, entities, facts, _ = self._analyze(text, extra)
        return hits, entities, facts

    def _analyze(self, text: str, extra: tuple[Entity, ...] = ()):
        if len(text) > MAX_SCREEN_CHARS:
            # Past this length a text is not an ad; its head is screened (and the assessment
            # says so), so no input can hold a worker for long. Spans still index the raw text.
            text = text[:MAX_SCREEN_CHARS]
        raw, masked = text, mask_markup(text)  # HTML: tags masked, same length, spans index the raw text
        if masked is not None:
            text = masked
        sh = shadow(text)
        tokens = tokenize(sh, self.engine.vocab_words)
        matches = self.engine.match(tokens, text)
        entities = extract(sh) + self.engine.places(text, tokens, matches) + list(extra)
        entities.sort(key=lambda e: (e.span.start, e.span.end, e.kind))
        hits, facts = self.engine.hits(text, tokens, matches, entities)
        if masked is not None:
            hits, entities = respan(raw, hits, entities)
        return hits, entities, facts, make_record(text, hits, tokens, sh.text)

    def record(self, text: str) -> dict[str, Any]:
        """The classifier's input for a text (what training uses, so features match)."""
        return self._analyze(text)[3]

    def screen(self, text: str, *, title: str | None = None, company: str | None = None, url: str | None = None) -> Assessment:
        """Screen one ad. Title, company and URL, when given, are screened with the text; all
        spans index ``full_text(text, title, company, url)``, which is ``text`` when only the
        text is given."""
        if not isinstance(text, str):
            raise TypeError("text must be a str")
        full = full_text(text, title=title, company=company, url=url)
        extra: tuple[Entity, ...] = ()
        if company and company.strip() and full is not text:
            name = company.strip()
            start = full.find(name)
            extra = (Entity("company", Span(start, start + len(name), name), " ".join(name.split()), (("source", "field"),)),)
        hits, entities, facts, rec = self._analyze(full, extra)
        clf: ClassifierResult | None = None
        if self.classifier is not None and full.strip():
            clf = self.classifier.predict_record(rec)
        value, band, flagged, steps = score(hits, clf.probability if clf else None, self.catalogue.scoring)
        if len(full) > MAX_SCREEN_CHARS:
            facts = set(facts) | {"truncated"}
        return Assessment(
            text=full,
            risk_score=value,
            risk_band=band,
            flagged=flagged,
            hits=tuple(hits),
            steps=steps,
            entities=tuple(entities),
            facts=tuple(sorted(facts)),
            classifier=clf,
            versions=self.versions,
        )

    def to_dict(self, a: Assessment, *, with_text: bool = False) -> dict[str, Any]:
        return assessment_to_dict(a, self.catalogue, with_text=with_text)


def full_text(text: str, *, title: str | None = None, company: str | None = None, url: str | None = None) -> str:
    """The text that is screened: the title and the company on lines of their own above the
    ad, the URL below, so each can carry evidence."""
    head = [x.strip() for x in (title, company) if x and x.strip()]
    parts = head + [text]
    if url and url.strip():
        parts.append(url.strip())
    return "\n".join(parts) if len(parts) > 1 else text


def _summary(a: Assessment, catalogue: Catalogue) -> dict[str, str]:
    names_vi = [catalogue.indicators[h.indicator].name["vi"] for h in a.counted_hits]
    names_en = [catalogue.indicators[h.indicator].name["en"] for h in a.counted_hits]
    if a.risk_band == "high":
        vi = "Nguy cơ CAO: tin này có dấu hiệu lừa đảo hoặc mua bán người"
        en = "HIGH risk: this ad carries signs of fraud or trafficking"
    elif a.risk_band == "medium":
        vi = "Nguy cơ TRUNG BÌNH: tin này có dấu hiệu cần kiểm tra"
        en = "MEDIUM risk: this ad carries signs that need checking"
    else:
        vi = "Nguy cơ THẤP: không thấy dấu hiệu đáng kể"
        en = "LOW risk: no significant sign found"
    if names_vi:
        vi += " (" + "; ".join(names_vi) + ")"
        en += " (" + "; ".join(names_en) + ")"
    if a.classifier is not None:
        vi += f". Mô hình phân loại: xác suất {a.classifier.probability:.0%}"
        en += f". Classifier probability {a.classifier.probability:.0%}"
    if a.flagged:
        vi += ". Nếu nghi ngờ, gọi 111 hoặc 1800 6605 (miễn phí)."
        en += ". If in doubt, call 111 or 1800 6605 (free)."
    return {"vi": vi if vi.endswith(".") else vi + ".", "en": en if en.endswith(".") else en + "."}


def assessment_to_dict(a: Assessment, catalogue: Catalogue, *, with_text: bool = False) -> dict[str, Any]:
    """The JSON form of an assessment (the contract of the CLI, the API and the scan)."""
    def hit(h):
        ind = catalogue.indicators[h.indicator]
        return {**h.to_dict(), **ind.public()}

    d: dict[str, Any] = {
        "flagged": a.flagged,
        "risk_score": round(a.risk_score, 4),
        "risk_band": a.risk_band,
        "indicators": [hit(h) for h in a.hits if h.counted],
        "not_counted": [hit(h) for h in a.hits if not h.counted],
        "explanation": {
            "summary": _summary(a, catalogue),
            "steps": [s.to_dict() for s in a.steps],
            "formula": "risk_score = 1 − Π(1 − wᵢ); weights and bands in rules/scoring.yaml",
            "facts": list(a.facts),
        },
        "entities": [e.to_dict() for e in a.entities],
        "classifier": a.classifier.to_dict() if a.classifier else None,
        "versions": dict(a.versions),
    }
    if "truncated" in a.facts:
        d["truncated_at"] = MAX_SCREEN_CHARS
    if a.flagged:
        d["hotlines"] = list(HOTLINES)
    if with_text:
        d["text"] = a.text
    return d
