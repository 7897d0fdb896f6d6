"""Rendering evidence: HTML through spaCy's displacy (manual mode, spans into the raw text)
and a rich Text for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .types import Assessment

if TYPE_CHECKING:
    from rich.text import Text

    from .catalogue import Catalogue

__all__ = ["evidence_spans", "html", "terminal_text"]

SEVERITY_COLOURS = {"critical": "#b71c1c", "high": "#e57373", "medium": "#ffb74d", "low": "#fff176"}


def evidence_spans(a: Assessment) -> list[tuple[int, int, str, str]]:
    """(start, end, indicator id, severity) for every counted piece of evidence, without
    overlaps (the more severe sign wins a contested stretch), sorted by start."""
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    items = sorted(
        ((s.start, s.end, h.indicator, h.severity) for h in a.counted_hits for s in h.evidence if s.end > s.start),
        key=lambda x: (order[x[3]], x[0]),
    )
    taken: list[tuple[int, int, str, str]] = []
    for it in items:
        if all(it[1] <= t[0] or it[0] >= t[1] for t in taken):
            taken.append(it)
    return sorted(taken)


def html(a: Assessment, catalogue: "Catalogue", lang: str = "vi") -> str:
    """The ad with its evidence highlighted, as an HTML fragment (displacy, style "span"
    would also work; "ent" keeps one label per stretch, which reads best)."""
    from spacy import displacy

    ents = []
    colours = {}
    for s, e, ind, sev in evidence_spans(a):
        label = catalogue.indicators[ind].name.get(lang, ind) if ind in catalogue.indicators else ind
        ents.append({"start": s, "end": e, "label": label})
        colours[label] = SEVERITY_COLOURS[sev]
    doc = {"text": a.text, "ents": ents, "title": None}
    return displacy.render(doc, style="ent", manual=True, page=False, jupyter=False, options={"colors": colours})


def terminal_text(a: Assessment) -> "Text":
    from rich.text import Text

    t = Text(a.text)
    styles = {"critical": "bold white on red", "high": "bold red", "medium": "bold yellow", "low": "yellow"}
    for s, e, _ind, sev in evidence_spans(a):
        t.stylize(styles[sev], s, e)
    return t
