"""Identifiers that link postings: phones and chat handles, firms, e-mails, domains, licences and
bank accounts, taken from the assessment's entities and normalised so that two ads written
differently still meet. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable

__all__ = ["identifiers_from_assessment", "normalise", "LINK_GROUPS", "link_kinds", "agency_query"]

# Kinds that link postings. Phones and Zalo numbers are the same thing written two ways.
LINK_GROUPS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "zalo"),
    "zalo": ("phone", "zalo"),
    "telegram": ("telegram",),
    "email": ("email",),
    "domain": ("domain",),
    "company": ("company",),
    "licence": ("licence",),
    "bank_account": ("bank_account",),
    "facebook": ("facebook",),
}
KINDS_FROM_ENTITIES = {"url": "domain"}  # a URL links through its host
# Hosts shared by everybody: linking on them would tie every ad together.
GENERIC_DOMAINS = frozenset({
    "facebook.com", "fb.com", "m.facebook.com", "zalo.me", "t.me", "telegram.me", "google.com",
    "gmail.com", "yahoo.com", "youtube.com", "tiktok.com", "instagram.com", "forms.gle",
    "docs.google.com", "bit.ly", "linktr.ee",
})
_SPACES = re.compile(r"\s+")
_EDGE = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)


def link_kinds(kind: str) -> tuple[str, ...]:
    return LINK_GROUPS.get(kind, (kind,))


def _host(value: str) -> str:
    v = value.strip().lower()
    v = re.sub(r"^[a-z][a-z0-9+.-]*://", "", v)
    v = v.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].split(":", 1)[0]
    return v[4:] if v.startswith("www.") else v


def normalise(kind: str, value: Any) -> str | None:
    """The comparable form of an identifier, or None when it should not link anything."""
    if value is None:
        return None
    v = unicodedata.normalize("NFC", str(value)).strip()
    if not v:
        return None
    if kind in ("phone", "zalo"):
        digits = re.sub(r"[^\d+]", "", v)
        if digits.startswith("0") and len(digits) >= 9:
            digits = "+84" + digits[1:]
        return digits if len(re.sub(r"\D", "", digits)) >= 8 else None
    if kind == "telegram":
        v = v.lower().rsplit("/", 1)[-1]
        return "@" + v.lstrip("@") if v.strip("@") else None
    if kind == "email":
        return v.lower()
    if kind == "domain":
        host = _host(v)
        return host if host and "." in host and host not in GENERIC_DOMAINS else None
    if kind == "facebook":
        v = re.sub(r"^(https?://)?(www\.|m\.)?", "", v.lower())
        return v.rstrip("/") or None
    if kind == "company":
        v = v.split("\n", 1)[0]  # a firm's name stops at the end of its line
        v = _EDGE.sub("", _SPACES.sub(" ", v)).casefold()
        return v if len(v) >= 3 else None
    if kind in ("licence", "bank_account"):
        v = _SPACES.sub("", v).upper()
        return v or None
    return None


def identifiers_from_assessment(assessment: dict[str, Any], company: str | None = None) -> list[tuple[str, str, str]]:
    """(kind, normalised value, text as written), one per distinct (kind, value)."""
    out: dict[tuple[str, str], str] = {}

    def add(kind: str, value: Any, text: str) -> None:
        norm = normalise(kind, value)
        if norm is not None and len(norm) <= 300:
            out.setdefault((kind, norm), text[:500])

    for e in assessment.get("entities", ()):
        kind = KINDS_FROM_ENTITIES.get(e.get("kind"), e.get("kind"))
        if kind in LINK_GROUPS:
            text = str(e.get("text") or e.get("value") or "")
            # A firm's name as written (its normalised value may run past the end of its line).
            add(kind, text if kind == "company" and text else e.get("value"), text)
    if company:
        add("company", company, company)
    return [(k, v, t) for (k, v), t in out.items()]


def agency_query(agency: str) -> tuple[tuple[str, ...], str, bool]:
    """How to look an agency up: (kinds, value, exact). A phone number matches phones and Zalo
    exactly; anything else matches firms, domains, handles… by substring."""
    a = agency.strip()
    digits = re.sub(r"\D", "", a)
    if digits and len(digits) >= 8 and re.fullmatch(r"[\d\s.+()-]+", a):
        return LINK_GROUPS["phone"], normalise("phone", a) or digits, True
    return ("company", "domain", "email", "telegram", "licence", "facebook", "bank_account"), _SPACES.sub(" ", unicodedata.normalize("NFC", a)).casefold(), False


def distinct(items: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for k, v, t in items:
        if (k, v) not in seen:
            seen.add((k, v))
            out.append((k, v, t))
    return out
