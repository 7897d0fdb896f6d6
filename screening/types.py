"""Frozen result types. Each stage of the screening chain returns new values; nothing is
edited in place. Every span indexes the raw input text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class Entity:
    """Something extracted from the ad: an amount, a phone, a place, an age…"""

    kind: str  # money | phone | zalo | telegram | facebook | email | url | domain | bank_account
    #            | place | age | duration | licence | company | hours
    span: Span
    value: Any  # normalised value (E.164 phone, place key, amount in its currency…)
    attrs: tuple[tuple[str, Any], ...] = ()

    def attr(self, key: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, "value": self.value, **self.span.to_dict()}
        d.update(dict(self.attrs))
        return d


@dataclass(frozen=True, slots=True)
class Hit:
    """An indicator found in the ad, with its evidence and how its severity came to be."""

    indicator: str
    severity: str
    evidence: tuple[Span, ...]
    why: tuple[str, ...]  # the decision process: which pattern or detector, which context
    counted: bool = True  # False: found but not counted (context missing); kept visible

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.indicator,
            "severity": self.severity,
            "evidence": [s.to_dict() for s in self.evidence],
            "why": list(self.why),
            "counted": self.counted,
        }


@dataclass(frozen=True, slots=True)
class Step:
    """One contribution to the score."""

    source: str  # "rule:<indicator id>" or "classifier"
    weight: float  # the contribution wᵢ in 1 − Π(1 − wᵢ)
    score_after: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "weight": round(self.weight, 4),
            "score_after": round(self.score_after, 4),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ClassifierResult:
    probability: float
    features: tuple[tuple[str, float], ...] = ()  # n-grams that pushed the decision, with weight
    model_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": round(self.probability, 4),
            "features": [{"feature": f, "weight": round(w, 4)} for f, w in self.features],
            "model_version": self.model_version,
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    text: str
    risk_score: float
    risk_band: str  # high | medium | low
    flagged: bool
    hits: tuple[Hit, ...]
    steps: tuple[Step, ...]
    entities: tuple[Entity, ...] = ()
    facts: tuple[str, ...] = ()
    classifier: ClassifierResult | None = None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def counted_hits(self) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.counted)
