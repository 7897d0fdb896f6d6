"""One scoring function: rule hits and the classifier's calibrated probability in, a score in
[0, 1], a band and the list of contributions out.

    score = 1 − Π(1 − wᵢ)

where each counted indicator contributes the weight of its severity (rules/scoring.yaml) and
the classifier contributes ``classifier.weight × p``. Each contribution is a Step with the
score after it, so the explanation shows how the score came to be; adding a sign can only
raise the score.
"""

from __future__ import annotations

from typing import Any, Iterable

from .types import Hit, Step, severity_rank

__all__ = ["score", "band_of"]


def band_of(value: float, scoring: dict[str, Any]) -> str:
    bands = scoring["bands"]
    if value >= bands["high"]:
        return "high"
    if value >= bands["medium"]:
        return "medium"
    return "low"


def score(
    hits: Iterable[Hit],
    probability: float | None,
    scoring: dict[str, Any],
) -> tuple[float, str, bool, tuple[Step, ...]]:
    """Return (risk_score, risk_band, flagged, steps)."""
    weights = scoring["weights"]
    counted = sorted((h for h in hits if h.counted), key=lambda h: (-severity_rank(h.severity), h.indicator))
    remaining = 1.0
    steps: list[Step] = []
    seen: set[str] = set()
    for h in counted:
        if h.indicator in seen:
            continue
        seen.add(h.indicator)
        w = float(weights[h.severity])
        remaining *= 1.0 - w
        steps.append(Step(f"rule:{h.indicator}", w, 1.0 - remaining, f"{h.severity} sign"))
    if probability is not None:
        p = min(max(float(probability), 0.0), 1.0)
        w = float(scoring.get("classifier", {}).get("weight", 0.0)) * p
        remaining *= 1.0 - w
        steps.append(Step("classifier", w, 1.0 - remaining, f"calibrated probability {p:.2f}"))
    value = min(max(1.0 - remaining, 0.0), 1.0)
    band = band_of(value, scoring)
    return value, band, band in ("high", "medium"), tuple(steps)
