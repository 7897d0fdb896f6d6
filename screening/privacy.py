"""Redaction of personal data for exports and reports: phone numbers, chat handles, e-mails and
bank accounts (from extraction), and names of private persons (underthesea's Vietnamese NER,
label PER, and names after a form of address or with a common surname, which NER misses in long
ads). Firms, places and amounts stay: they are the evidence.

NER costs tens of milliseconds an ad, so it runs only here, when a report is made, never in the
screening path.
"""

from __future__ import annotations

import re
from typing import Iterable

from .extract import extract_contacts, extract_phones
from .markup import mask_markup
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


_UPPER = "A-ZÀ-ỸĐ"  # Vietnamese capitals (Latin-1 and Latin Extended Additional ranges)
_NAME_WORD = rf"[{_UPPER}][a-zà-ỹđ]{{0,7}}"
# Common surnames that are not also the first word of a place or a common capitalised phrase
# ("Hà Nội", "Thái Lan", "Cao Đẳng", "Văn Phòng", "Lương Cao" are left out).
_SURNAMES = "Nguyễn|Trần|Lê|Phạm|Hoàng|Huỳnh|Vũ|Võ|Đặng|Bùi|Đỗ|Ngô|Đinh|Trương|Trịnh|Đoàn|Quách|Kiều|Hứa"
# A name after a form of address ("chị Hoa", "anh Nguyễn Văn Nam"), or a full name with a common
# surname ("Trần Thị Mai"): what NER misses in long ads. Bounded: no backtracking blow-up.
_NAME_RE = re.compile(
    rf"(?:(?<![\w])(?:[Aa]nh|[Cc]hị|[Cc]hi|[Ee]m|[Cc]ô|[Cc]hú|[Bb]ác|[Ôô]ng|[Bb]à|[Mm]r\.?|[Mm]s\.?|[Mm]rs\.?)[ \t]+)"
    rf"(?P<a>{_NAME_WORD}(?:[ \t]{_NAME_WORD}){{0,3}})"
    rf"|(?<![\w])(?P<b>(?:{_SURNAMES})(?:[ \t]{_NAME_WORD}){{1,3}})(?![\w])"
)


def _rule_names(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _NAME_RE.finditer(text):
        g = "a" if m.group("a") else "b"
        if g == "b":  # not the tail of a capitalised name ("Bình Dương", "Công ty Hoàng Long")
            before = text[max(0, m.start() - 30):m.start()].rsplit("\n", 1)[-1].rstrip(" \t").rsplit(None, 1)  # on its line
            if before and before[-1][:1].isupper():
                continue
        out.append((m.start(g), m.end(g)))
    return out


def redact(text: str, *, names: bool = True, keep: Iterable[str] = ()) -> str:
    """The text with personal data replaced by placeholders. ``keep`` lists spans of text that
    must stay (a firm name, say) even if NER reads them as a person. Contacts are found as the
    screener finds them, through any HTML ("0912&nbsp;345&nbsp;678"): markup is masked with the
    text's length kept, so the spans apply to the text as given."""
    masked = mask_markup(text)
    sh = shadow(masked or text)
    # names are read in the text with its tags blanked (same length: the spans still apply)
    readable = masked.replace("\u200b", " ") if masked is not None else text
    spans: list[tuple[int, int, str]] = []
    for e in extract_phones(sh) + extract_contacts(sh):
        if e.kind in PERSONAL_KINDS:
            spans.append((e.span.start, e.span.end, PLACEHOLDERS[e.kind]))
    if names:
        kept = [k for k in keep if k]
        kept_at = [(m.start(), m.end()) for k in kept for m in re.finditer(re.escape(k), readable)]
        for s, e in person_names(readable) + _rule_names(readable):
            # a name does not run over lines (NER joins a heading to the next line; in HTML a
            # block tag is the line break)
            if "\n" in readable[s:e]:
                continue
            if any(readable[s:e].strip() in k for k in kept) or any(s < ke and ks < e for ks, ke in kept_at):
                continue
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
