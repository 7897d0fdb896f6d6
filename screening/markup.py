"""HTML in ads (pasted from a board or a Facebook post): tags and character references are masked
before screening, with the text's length kept, so every span still indexes the raw text.

    mask_markup('<b>việc nhẹ</b> lương&nbsp;cao')  ->  ' ‸‸việc nhẹ ‸‸‸ lương ‸‸‸‸‸cao'   (‸: U+200B)

Block tags (p, div, br, li, tr, h1…) become a line break, as they read; other tags a space; a
character reference its character (or a space); each padded to its length with zero-width
spaces, which the shadow text drops (so "20&nbsp;triệu" reads "20 triệu"). Only tags of HTML's
own vocabulary are masked, so "lương <10tr" or "<Campuchia>" stay as written. Linear in the
length of the text (bounded tags, no nested quantifiers)."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Sequence

from .types import Entity, Hit, Span

__all__ = ["mask_markup", "respan"]

_BLOCK = ("p|div|br|li|ul|ol|tr|td|th|table|tbody|thead|tfoot|h[1-6]|hr|section|article|header|footer|"
          "blockquote|pre|dl|dt|dd|figure|figcaption|main|nav|form|center|caption|title|html|body|head")
_INLINE = ("a|abbr|b|i|u|s|em|strong|small|big|font|span|code|sup|sub|label|img|meta|link|script|style|iframe|"
           "input|button|mark|del|ins|wbr|col|colgroup|time|video|audio|source|picture|svg|path|strike|tt|q|cite")
_TAG = re.compile(rf"<!--[^<>]{{0,4000}}?-->|</?(?:(?P<block>{_BLOCK})|{_INLINE})(?=[\s/>])[^<>]{{0,2000}}>", re.I)
_PAD = "\u200b"  # zero-width space: the shadow text drops it, so "20&nbsp;triệu" reads "20 triệu"
_REF = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def mask_markup(text: str) -> str | None:
    """The text with its HTML masked (same length), or None when it has none."""
    if "<" not in text and "&" not in text:
        return None
    parts: list[str] = []
    last = 0
    changed = False
    for m in sorted([*_TAG.finditer(text), *_REF.finditer(text)], key=lambda m: m.start()):
        s, e = m.span()
        if s < last:
            continue
        if m.group(0)[0] == "<":
            fill = ("\n" if m.re is _TAG and m.group("block") else " ") + _PAD * (e - s - 1)
        else:
            ch = html.unescape(m.group(0))
            if len(ch) != 1 or ch == m.group(0) or not ch.isprintable() and ch != "\xa0":
                continue  # not a reference html knows: leave it
            fill = (" " if ch == "\xa0" else ch) + _PAD * (e - s - 1)
        parts.append(text[last:s])
        parts.append(fill)
        last = e
        changed = True
    if not changed:
        return None
    parts.append(text[last:])
    return "".join(parts)


def _span(raw: str, s: Span) -> Span:
    return s if raw[s.start:s.end] == s.text else Span(s.start, s.end, raw[s.start:s.end])


def respan(raw: str, hits: Sequence[Hit], entities: Sequence[Entity]) -> tuple[list[Hit], list[Entity]]:
    """Spans found on the masked text, with their text taken from the raw text (same offsets)."""
    return ([replace(h, evidence=tuple(_span(raw, s) for s in h.evidence)) for h in hits],
            [replace(e, span=_span(raw, e.span)) for e in entities])
