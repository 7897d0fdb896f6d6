"""Redaction of personal data for exports and reports: phone numbers, chat handles, e-mails and
bank accounts (from extraction), and names of private persons (underthesea's Vietnamese NER,
label PER). Firms, places and amounts stay: they are the evidence.

NER costs tens of milliseconds an ad, so it runs only here, when a report is made, never in the
screening path.
"""

from __future__ import annotations

from typing import Iterable

from .extract import extract_contacts, extract_phones
from .text import shadow

__all__ = ["person_names", "redact"]

PLACEHOLDERS = {
    "phone": "[SĐT]", "zalo": "[ZALO]", "telegram": "[TELEGRAM]", "handle": "[TÀI KHOẢN]",
    "email": "[EMAIL]", "bank_account": "[STK]", "facebook": "[FACEBOOK]", "person": "[TÊN]",
}
PERSONAL_KINDS = frozenset({"phone", "zalo", "telegram", "handle", "email", "bank_account", "facebook"})


def person_names(text: str) -> list[tuple[int, int]]:
    """Spans of personal names (underthesea NER, PER) in the raw text."""
    from underthesea import ner

    spans: list[tuple[int, int]] = []
    pos = 0
    current: list[int] | None = None
    for word, _pos, _chunk, tag in ner(text):
        start = text.find(word, pos)
        if start < 0:
            current = None
            continue
        end = start + len(word)
        pos = end
        if tag == "B-PER":
            if current:
                spans.append((current[0], current[1]))
            current = [start, end]
        elif tag == "I-PER" and current:
            current[1] = end
        else:
            if current:
                spans.append((current[0], current[1]))
            current = None
    if current:
        spans.append((current[0], current[1]))
    return spans


def redact(text: str, *, names: bool = True, keep: Iterable[str] = ()) -> str:
    """The text with personal data replaced by placeholders. ``keep`` lists spans of text that
    must stay (a firm name, say) even if NER reads them as a person."""
    sh = shadow(text)
    spans: list[tuple[int, int, str]] = []
    for e in extract_phones(sh) + extract_contacts(sh):
        if e.kind in PERSONAL_KINDS:
            spans.append((e.span.start, e.span.end, PLACEHOLDERS[e.kind]))
    if names:
        kept = [k for k in keep if k]
        for s, e in person_names(text):
            if not any(text[s:e] in k for k in kept):
                spans.append((s, e, PLACEHOLDERS["person"]))
    spans.sort(key=lambda x: (x[0], -(x[1] - x[0])))
    out, last = [], 0
    for s, e, ph in spans:
        if s < last:
            continue
        out.append(text[last:s])
        out.append(ph)
        last = e
    out.append(text[last:])
    return "".join(out)
