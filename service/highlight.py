"""The ad as HTML with its evidence highlighted, from the stored assessment (so an item shows
the evidence it was flagged on, whatever the rules say today). Escaped; spans index the
screened text."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

__all__ = ["highlight"]

ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def highlight(text: str, indicators: list[dict[str, Any]], lang: str = "vi") -> Markup:
    """Each counted piece of evidence in a <mark>, without overlaps (the more severe sign wins a
    contested stretch)."""
    items = sorted(
        (
            (e["start"], e["end"], i["id"], i.get("severity", "medium"), (i.get("name") or {}).get(lang, i["id"]))
            for i in indicators
            for e in i.get("evidence", [])
            if 0 <= e["start"] < e["end"] <= len(text)
        ),
        key=lambda x: (ORDER.get(x[3], 9), x[0]),
    )
    taken: list[tuple[int, int, str, str, str]] = []
    for it in items:
        if all(it[1] <= t[0] or it[0] >= t[1] for t in taken):
            taken.append(it)
    taken.sort()
    out, pos = [], 0
    for start, end, ind, sev, name in taken:
        out.append(escape(text[pos:start]))
        out.append(Markup('<mark class="ev sev-{}" data-indicator="{}" title="{}">{}</mark>').format(sev, ind, name, text[start:end]))
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)
