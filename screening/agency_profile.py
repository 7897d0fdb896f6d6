"""An agency's risk profile: the agency-level signs (rules/agency_signs.yaml) found in what is
known of a firm — its licence status in the registry, its postings' assessments, the
identifiers it shares with other firms, its reposted templates — each with its evidence, and a
score and band from the same scoring function as a posting's (``screening.score.score``), so
the reasons read like a posting's.

``profile`` is a pure function: the service (and the CLI) gather the facts, this judges them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence


from .catalogue import _bilingual, _need, _read_yaml, _severity, default_rules_dir
from .errors import RuleFileError
from .score import score
from .types import Hit, Span

__all__ = ["AgencySign", "load_signs", "profile", "recruits_abroad", "LICENCE_SIGNS", "FEE_INDICATORS"]

SIGNS_FILE = "agency_signs.yaml"
# The registry status that is a sign when the firm recruits for work abroad.
LICENCE_SIGNS = {
    "unlicensed": "agency_unlicensed",
    "revoked": "agency_licence_revoked",
    "suspended": "agency_licence_suspended",
    "surrendered": "agency_licence_surrendered",
}
BAD_STATUSES = ("revoked", "suspended", "surrendered")
FEE_INDICATORS = ("fee_over_cap",)
REQUIRED_SIGNS = tuple(LICENCE_SIGNS.values()) + (
    "agency_shared_contact", "agency_revoked_contact_reused", "agency_lookalike_domain",
    "agency_template_reposted", "agency_fees_over_cap",
)


@dataclass(frozen=True)
class AgencySign:
    id: str
    name: dict[str, str]
    explanation: dict[str, str]
    severity: str
    legal: tuple[dict[str, Any], ...] = ()
    heuristic: bool = False

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": dict(self.name), "explanation": dict(self.explanation),
                "severity": self.severity, "legal": [dict(x) for x in self.legal], "heuristic": self.heuristic}


_CACHE: dict[str, dict[str, AgencySign]] = {}


def load_signs(rules_dir: str | Path | None = None) -> dict[str, AgencySign]:
    """The agency signs of ``rules_dir/agency_signs.yaml``, checked: an error names the file
    and the sign (RuleFileError, like the catalogue's)."""
    root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    path = root / SIGNS_FILE
    key = str(path.resolve())
    if key in _CACHE:
        return _CACHE[key]
    doc = _read_yaml(path)
    items = doc.get("signs")
    if not isinstance(items, list) or not items:
        raise RuleFileError(path, "expected a non-empty list `signs`")
    out: dict[str, AgencySign] = {}
    for i, d in enumerate(items):
        if not isinstance(d, dict):
            raise RuleFileError(path, f"sign #{i + 1} is not a mapping")
        sid = d.get("id")
        if not isinstance(sid, str) or not sid.strip():
            raise RuleFileError(path, f"sign #{i + 1} has no `id`")
        if sid in out:
            raise RuleFileError(path, "duplicate id", sid)
        legal = d.get("legal", [])
        if not isinstance(legal, list) or any(not isinstance(x, dict) or not x.get("ref") for x in legal):
            raise RuleFileError(path, "`legal` must be a list of {ref: …}", sid)
        out[sid] = AgencySign(
            id=sid, name=_bilingual(path, sid, d, "name"), explanation=_bilingual(path, sid, d, "explanation"),
            severity=_severity(path, sid, _need(path, sid, d, "severity", str), "severity"),
            legal=tuple(legal), heuristic=bool(d.get("heuristic", False)),
        )
    missing = [s for s in REQUIRED_SIGNS if s not in out]
    if missing:
        raise RuleFileError(path, f"missing sign(s) {', '.join(missing)}")
    _CACHE[key] = out
    return out


def recruits_abroad(assessment: Mapping[str, Any]) -> bool:
    """The ad recruits for work abroad: the screener found a foreign place or an
    'abroad' phrase (xuất khẩu lao động, đi làm việc ở nước ngoài…)."""
    for e in assessment.get("entities", ()) or ():
        if e.get("kind") == "abroad":
            return True
        if e.get("kind") == "place" and e.get("market") and not e.get("town"):
            return True
    return False


def _ev(text: str) -> Span:
    return Span(0, 0, text)


def profile(
    postings: Sequence[Mapping[str, Any]],
    *,
    licence_status: str | None,
    firm: Mapping[str, Any] | None = None,
    linked: Iterable[Mapping[str, Any]] = (),
    duplicates: Iterable[Mapping[str, Any]] = (),
    contradictions: Iterable[str] = (),
    scoring: Mapping[str, Any],
    signs: Mapping[str, AgencySign] | None = None,
) -> dict[str, Any]:
    """Judge an agency.

    postings: ``{"id", "external_id", "assessment"}`` (the assessment as Screener.to_dict gives it).
    licence_status: the registry status of the firm behind it, or None when it is not in the
      registry (it becomes ``unlicensed`` when any posting recruits for work abroad).
    linked: other agencies sharing identifiers: ``{"id", "name", "licence_status", "via": [{"kind", "value"}]}``.
    duplicates: ``{"posting_id", "external_id", "others": [{"agency_id", "agency_name", "posting_id"}]}``.
    contradictions: what the resolution found pointing elsewhere (look-alike domains…).

    Returns ``{"licence_status", "recruits_abroad", "signs", "risk_score", "risk_band", "flagged",
    "steps", "indicators", "fees"}``; each sign has the catalogue's texts, the legal references and
    its evidence.
    """
    signs = signs if signs is not None else load_signs()
    abroad = any(recruits_abroad(p.get("assessment") or {}) for p in postings)
    status = licence_status
    if status is None and abroad:
        status = "unlicensed"
    found: dict[str, list[str]] = {}

    def add(sid: str, evidence: str) -> None:
        lst = found.setdefault(sid, [])
        if evidence not in lst:
            lst.append(evidence)

    # The licence: recruiting for work abroad with none, or with a revoked / suspended / surrendered one.
    if abroad and status in LICENCE_SIGNS:
        ads = [p for p in postings if recruits_abroad(p.get("assessment") or {})]
        who = f"{firm['name']} ({firm.get('licence_no', '')}, {status})" if firm else "not in the registry"
        add(LICENCE_SIGNS[status], f"registry: {who}; {len(ads)} ad(s) for work abroad: "
            + ", ".join(str(p.get("external_id")) for p in ads[:10]))
    # Shared contacts: the same phone / account under other firm names.
    for other in linked:
        contacts = [v for v in other.get("via", ()) if v.get("kind") in ("phone", "zalo", "email", "telegram", "bank_account")]
        if not contacts:
            continue
        shown = ", ".join(f"{v['kind']} {v['value']}" for v in contacts)
        add("agency_shared_contact", f"{shown} also under {other.get('name')!r}")
        if other.get("licence_status") in BAD_STATUSES and status not in BAD_STATUSES:
            add("agency_revoked_contact_reused", f"{shown} of {other.get('name')!r} (licence {other.get('licence_status')})")
    for c in contradictions:
        if c.startswith("look-alike domain"):
            add("agency_lookalike_domain", c)
    for d in duplicates:
        names = sorted({str(o.get("agency_name")) for o in d.get("others", ())})
        if names:
            add("agency_template_reposted", f"ad {d.get('external_id')} reposted under {', '.join(names)}")
    # Indicators across the postings, and fees above the caps.
    indicators: dict[str, dict[str, Any]] = {}
    fees: list[dict[str, Any]] = []
    for p in postings:
        for ind in (p.get("assessment") or {}).get("indicators", ()):
            row = indicators.setdefault(ind["id"], {"id": ind["id"], "name": ind.get("name"), "severity": ind["severity"], "postings": []})
            row["postings"].append(p.get("external_id"))
            if ind["id"] in FEE_INDICATORS:
                ev = "; ".join(e.get("text", "") for e in ind.get("evidence", ()))
                fees.append({"posting_id": p.get("id"), "external_id": p.get("external_id"), "evidence": ev,
                             "why": list(ind.get("why", ())), "severity": ind["severity"]})
    for f in fees:
        add("agency_fees_over_cap", f"ad {f['external_id']}: {f['evidence']}")
    hits = [Hit(sid, signs[sid].severity, tuple(_ev(e) for e in evs), tuple(evs)) for sid, evs in found.items() if sid in signs]
    value, band, flagged, steps = score(hits, None, dict(scoring))
    out_signs = []
    for h in sorted(hits, key=lambda h: ({"critical": 0, "high": 1, "medium": 2, "low": 3}[h.severity], h.indicator)):
        d = signs[h.indicator].public()
        d["evidence"] = list(h.why)
        out_signs.append(d)
    return {
        "licence_status": status,
        "recruits_abroad": abroad,
        "signs": out_signs,
        "risk_score": round(value, 4),
        "risk_band": band,
        "flagged": flagged,
        "steps": [s.to_dict() for s in steps],
        "indicators": sorted(indicators.values(), key=lambda r: -len(r["postings"])),
        "fees": fees,
    }

