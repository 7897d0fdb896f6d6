"""The rules catalogue: indicators, places, scoring and caps, loaded from ``rules/`` (YAML) and
checked on load. A broken file stops loading with an error naming the file and the rule."""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import PatternSyntaxError, RuleFileError
from .text import accent_key, fold, words
from .types import SEVERITIES

__all__ = ["Catalogue", "Indicator", "Pattern", "Place", "compile_pattern", "default_rules_dir"]

FACTS = frozenset({"overseas", "sea_route", "money_asked", "no_named_employer", "chat_contact", "minor_age", "high_pay", "foreign_script"})
DETECTORS = frozenset({"fee_over_cap", "lump_sum_fee", "deposit_over_cap", "minor_age", "long_hours"})
MAX_GAP = 6
MAX_PHRASES = 256  # a pattern with more alternatives is matched slot by slot, not expanded
GAP_WORD = "qqgap"  # stands for {gap:N} while a pattern goes through the normaliser


def default_rules_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "rules"


# A compiled pattern: one or more sequences of items; an item is a word, "<num>" or ("gap", n).
Item = str | tuple[str, int]


@dataclass(frozen=True)
class Pattern:
    source: str  # as written in the file
    lang: str
    severity: str | None
    sequences: tuple[tuple[Item, ...], ...]
    # The same pattern as slots, for patterns with {num} or {gap}: each slot is a frozenset of
    # word tuples (alternatives; () when optional), "<num>", or ("gap", n).
    slots: tuple = ()
    # folded word -> the spellings with diacritics the pattern uses (None: written without).
    # When the ad writes a word with diacritics, they must agree: "tiền cò" is a broker's fee,
    # "ưu tiên có" is not, though both fold to "tien co".
    accents: dict = field(default_factory=dict)

    @property
    def is_phrase(self) -> bool:
        return not self.slots

    @property
    def words(self) -> set[str]:
        """Every word the pattern can match."""
        out = {w for seq in self.sequences for w in seq if isinstance(w, str)}
        for slot in self.slots:
            if slot != "<num>" and slot[0] == "w":
                out.update(w for alt in slot[1] for w in alt)
        out.discard("<num>")
        return out


@dataclass(frozen=True)
class Indicator:
    id: str
    name: dict[str, str]
    explanation: dict[str, str]
    severity: str
    ilo: tuple[str, ...]
    legal: tuple[dict[str, Any], ...]
    requires: tuple[str, ...]
    escalate: tuple[tuple[tuple[str, ...], str], ...]
    negation: bool
    detectors: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    excludes: tuple[Pattern, ...]
    examples_match: tuple[str, ...]
    examples_no_match: tuple[str, ...]
    path: str = ""

    def public(self) -> dict[str, Any]:
        """What an inspector sees of the indicator next to a hit."""
        return {
            "name": dict(self.name),
            "explanation": dict(self.explanation),
            "ilo": list(self.ilo),
            "legal": [dict(x) for x in self.legal],
        }


@dataclass(frozen=True)
class Place:
    key: str
    name: dict[str, str]
    market: str
    route: str | None
    town: bool
    names: tuple[tuple[str, ...], ...]
    after_verb: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Catalogue:
    version: str
    indicators: dict[str, Indicator]
    places: tuple[Place, ...]
    verbs: tuple[tuple[str, ...], ...]
    abroad: tuple[tuple[str, ...], ...]
    scoring: dict[str, Any]
    caps: dict[str, Any]
    path: str = ""
    extra_vocab: frozenset[str] = field(default=frozenset())

    @classmethod
    def load(cls, rules_dir: str | Path | None = None) -> "Catalogue":
        root = Path(rules_dir) if rules_dir is not None else default_rules_dir()
        if not root.is_dir():
            raise RuleFileError(root, "rules folder not found")
        version_file = root / "CATALOGUE_VERSION"
        version = version_file.read_text(encoding="utf-8").strip() if version_file.exists() else "unversioned"
        files = sorted((root / "indicators").glob("*.yaml"))
        if not files:
            raise RuleFileError(root / "indicators", "no indicator files")
        indicators: dict[str, Indicator] = {}
        for f in files:
            ind = load_indicator(f)
            if ind is not None:
                indicators[ind.id] = ind
        places_doc = _read_yaml(root / "places.yaml")
        places = tuple(_place(root / "places.yaml", p) for p in places_doc.get("places", []))
        verbs = tuple(tuple(words(v)) for v in places_doc.get("verbs", []))
        abroad = tuple(tuple(words(v)) for v in places_doc.get("abroad", []))
        scoring = _read_yaml(root / "scoring.yaml")
        _check_scoring(root / "scoring.yaml", scoring)
        caps = _read_yaml(root / "caps.yaml")
        return cls(version, indicators, places, verbs, abroad, scoring, caps, str(root))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except FileNotFoundError:
        raise RuleFileError(path, "file not found") from None
    except yaml.YAMLError as exc:
        raise RuleFileError(path, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise RuleFileError(path, "expected a mapping at the top level")
    return doc


def _check_scoring(path: Path, doc: dict[str, Any]) -> None:
    weights = doc.get("weights", {})
    for sev in SEVERITIES:
        w = weights.get(sev)
        if not isinstance(w, (int, float)) or not 0 <= w < 1:
            raise RuleFileError(path, f"weights.{sev} must be a number in [0, 1)")
    bands = doc.get("bands", {})
    if not (0 < bands.get("medium", 0) <= bands.get("high", 0) <= 1):
        raise RuleFileError(path, "bands must satisfy 0 < medium <= high <= 1")


def _place(path: Path, d: dict[str, Any]) -> Place:
    key = d.get("key")
    if not key or not d.get("names"):
        raise RuleFileError(path, "a place needs `key` and `names`", rule=str(key))
    return Place(
        key=key,
        name=dict(d.get("name", {"vi": key, "en": key})),
        market=d.get("market", "other"),
        route=d.get("route"),
        town=bool(d.get("town", False)),
        names=tuple(tuple(words(str(n))) for n in d["names"]),
        after_verb=tuple(tuple(words(str(n))) for n in d.get("after_verb", [])),
    )


def _need(path: Path, rule: str, d: dict[str, Any], key: str, kind: type) -> Any:
    if key not in d:
        raise RuleFileError(path, f"missing field `{key}`", rule)
    if not isinstance(d[key], kind):
        raise RuleFileError(path, f"field `{key}` must be a {kind.__name__}", rule)
    return d[key]


def _bilingual(path: Path, rule: str, d: dict[str, Any], key: str) -> dict[str, str]:
    v = _need(path, rule, d, key, dict)
    for lang in ("vi", "en"):
        if not isinstance(v.get(lang), str) or not v[lang].strip():
            raise RuleFileError(path, f"`{key}.{lang}` is missing or empty", rule)
    return {"vi": v["vi"].strip(), "en": v["en"].strip()}


def _severity(path: Path, rule: str, value: Any, where: str) -> str:
    if value not in SEVERITIES:
        raise RuleFileError(path, f"{where}: severity must be one of {', '.join(SEVERITIES)}, not {value!r}", rule)
    return value


def load_indicator(path: Path) -> Indicator | None:
    """Read and check one indicator file. Returns None for a retired indicator."""
    doc = _read_yaml(path)
    rule = str(doc.get("id", path.stem))
    if doc.get("id") != path.stem:
        raise RuleFileError(path, f"`id` must equal the file name ({path.stem!r})", rule)
    if doc.get("retired"):
        return None
    severity = _severity(path, rule, doc.get("severity"), "severity")
    ctx = doc.get("context") or {}
    if not isinstance(ctx, dict):
        raise RuleFileError(path, "`context` must be a mapping", rule)
    requires = tuple(ctx.get("requires") or ())
    escalate = []
    for i, e in enumerate(ctx.get("escalate") or ()):
        when = tuple(e.get("when") or ())
        escalate.append((when, _severity(path, rule, e.get("severity"), f"context.escalate[{i}]")))
        requires_unknown = set(when) - FACTS
        if requires_unknown:
            raise RuleFileError(path, f"unknown fact(s) {sorted(requires_unknown)} in escalate; known: {sorted(FACTS)}", rule)
    unknown = set(requires) - FACTS
    if unknown:
        raise RuleFileError(path, f"unknown fact(s) {sorted(unknown)} in requires; known: {sorted(FACTS)}", rule)
    detectors = tuple(doc.get("detectors") or ())
    if set(detectors) - DETECTORS:
        raise RuleFileError(path, f"unknown detector(s) {sorted(set(detectors) - DETECTORS)}; known: {sorted(DETECTORS)}", rule)
    patterns: list[Pattern] = []
    pats = doc.get("patterns") or {}
    if not isinstance(pats, dict):
        raise RuleFileError(path, "`patterns` must map a language (vi, en) to a list", rule)
    for lang, items in pats.items():
        if lang not in ("vi", "en"):
            raise RuleFileError(path, f"patterns: unknown language {lang!r} (vi or en)", rule)
        for j, item in enumerate(items or ()):
            if isinstance(item, str):
                src, sev = item, None
            elif isinstance(item, dict) and isinstance(item.get("pattern"), str):
                src = item["pattern"]
                sev = _severity(path, rule, item.get("severity"), f"patterns.{lang}[{j}]") if "severity" in item else None
            else:
                raise RuleFileError(path, f"patterns.{lang}[{j}] must be a string or have `pattern`", rule)
            try:
                patterns.append(compile_pattern(src, lang, sev))
            except PatternSyntaxError as exc:
                raise PatternSyntaxError(path, f"patterns.{lang}[{j}] {src!r}: {exc.message}", rule) from None
    excludes: list[Pattern] = []
    for j, src in enumerate(doc.get("exclude") or ()):
        if not isinstance(src, str):
            raise RuleFileError(path, f"exclude[{j}] must be a string", rule)
        try:
            excludes.append(compile_pattern(src, "any", None))
        except PatternSyntaxError as exc:
            raise PatternSyntaxError(path, f"exclude[{j}] {src!r}: {exc.message}", rule) from None
    if not patterns and not detectors:
        raise RuleFileError(path, "an indicator needs patterns or detectors", rule)
    ex = doc.get("examples") or {}
    match = tuple(str(x) for x in ex.get("match") or ())
    no_match = tuple(str(x) for x in ex.get("no_match") or ())
    if len(match) < 2 or len(no_match) < 2:
        raise RuleFileError(path, "examples need at least two `match` and two `no_match` texts", rule)
    legal = tuple(_need(path, rule, doc, "legal", list))
    for k, ref in enumerate(legal):
        if not isinstance(ref, dict) or not ref.get("ref"):
            raise RuleFileError(path, f"legal[{k}] needs `ref` (instrument and article)", rule)
    return Indicator(
        id=rule,
        name=_bilingual(path, rule, doc, "name"),
        explanation=_bilingual(path, rule, doc, "explanation"),
        severity=severity,
        ilo=tuple(_need(path, rule, doc, "ilo", list)),
        legal=legal,
        requires=requires,
        escalate=tuple(escalate),
        negation=bool(ctx.get("negation", True)),
        detectors=detectors,
        patterns=tuple(patterns),
        excludes=tuple(excludes),
        examples_match=match,
        examples_no_match=no_match,
        path=str(path),
    )


# --- pattern syntax ---------------------------------------------------------------------

_PIECE_RE = re.compile(r"\(([^()]*)\)(\?)?|\{(num|gap(?::\d+)?)\}|([^\s(){}]+)|(\S)")


def compile_pattern(source: str, lang: str = "vi", severity: str | None = None) -> Pattern:
    """Compile the pattern syntax of rules/README.md into word sequences."""
    slots: list[list[str]] = []  # each slot: alternatives, as text to normalise
    for m in _PIECE_RE.finditer(source):
        group, optional, special, word, stray = m.groups()
        if stray is not None:
            raise PatternSyntaxError("pattern", f"unexpected {stray!r} at {m.start()}")
        if group is not None:
            alts = [a.strip() for a in group.split("|")]
            if any(not a for a in alts):
                raise PatternSyntaxError("pattern", "empty alternative in ( | )")
            if optional:
                alts.append("")
            slots.append(alts)
        elif special is not None:
            if special == "num":
                slots.append(["1"])
            else:
                n = int(special.split(":")[1]) if ":" in special else 3
                if not 1 <= n <= MAX_GAP:
                    raise PatternSyntaxError("pattern", f"{{gap:{n}}}: the gap must be 1 to {MAX_GAP} words")
                slots.append([GAP_WORD + "abcdefghij"[n]])
        else:
            slots.append([word])
    if not slots:
        raise PatternSyntaxError("pattern", "empty pattern")
    total = 1
    for alts in slots:
        total *= len(alts)
    special = any(alts == ["1"] or (len(alts) == 1 and alts[0].startswith(GAP_WORD)) for alts in slots)
    if special or total > MAX_PHRASES:
        # {num} / {gap} or many alternatives: matched slot by slot around an anchor
        compiled = _slots(slots)
        if not any(x != "<num>" and x[0] == "w" and () not in x[1] for x in compiled):
            raise PatternSyntaxError("pattern", "a pattern needs at least one required word or group")
        return Pattern(source, lang, severity, (), compiled, _accents(source))
    sequences: list[tuple[Item, ...]] = []
    seen = set()
    for combo in itertools.product(*slots):
        text = " ".join(c for c in combo if c)
        seq: list[Item] = []
        for w in words(text):
            if w.startswith(GAP_WORD):
                seq.append(("gap", "abcdefghij".index(w[len(GAP_WORD):])))
            else:
                seq.append(w)
        while seq and isinstance(seq[0], tuple):
            seq.pop(0)
        while seq and isinstance(seq[-1], tuple):
            seq.pop()
        if not seq:
            raise PatternSyntaxError("pattern", "a pattern needs at least one word")
        key = tuple(seq)
        if key not in seen:
            seen.add(key)
            sequences.append(key)
    return Pattern(source, lang, severity, tuple(sequences), (), _accents(source))


def _accents(source: str) -> dict[str, frozenset]:
    forms: dict[str, set] = {}
    for w in re.findall(r"[^\W\d_]+", unicodedata.normalize("NFC", source).lower()):
        f = fold(w)
        forms.setdefault(f, set()).add(accent_key(w) if w != f else None)
    return {k: frozenset(v) for k, v in forms.items()}


def _slots(raw_slots: list[list[str]]) -> tuple:
    """Slots of a pattern: ("w", frozenset of word tuples, accents) for words (() in the set
    when optional), "<num>", or ("gap", n)."""
    out: list = []
    prev_num = False
    for alts in raw_slots:
        if alts == ["1"]:
            out.append("<num>")
            prev_num = True
            continue
        if len(alts) == 1 and alts[0].startswith(GAP_WORD):
            out.append(("gap", "abcdefghij".index(alts[0][len(GAP_WORD):])))
            prev_num = False
            continue
        options = set()
        for alt in alts:
            ws = words(("1 " + alt) if prev_num and alt else alt)
            if prev_num and alt:
                ws = ws[1:]
            options.add(tuple(ws))
        acc = _accents(" ".join(alts))
        prev = out[-1] if out else None
        # merge runs of single-option word slots: "đặt" "cọc" -> ("dat", "coc")
        if isinstance(prev, tuple) and prev[0] == "w" and len(prev[1]) == 1 and len(options) == 1 and () not in options and () not in prev[1]:
            (p1,), (p2,) = tuple(prev[1]), tuple(options)
            merged = dict(prev[2])
            for k, v in acc.items():
                merged[k] = merged.get(k, frozenset()) | v
            out[-1] = ("w", frozenset({p1 + p2}), merged)
        else:
            out.append(("w", frozenset(options), acc))
        prev_num = False
    while out and out[0] != "<num>" and out[0][0] == "gap":
        out.pop(0)
    while out and out[-1] != "<num>" and out[-1][0] == "gap":
        out.pop()
    return tuple(out)
