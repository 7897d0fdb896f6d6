"""The rules engine: spaCy's PhraseMatcher and Matcher over a Doc of the ad's tokens (their
folded norms), the catalogue's context (negation, facts that a sign needs or that raise it)
and the detectors that need arithmetic (fee caps, ages, hours).

The Doc holds one token per text token, with the token's norm as its text when the norm is a
word some pattern uses, ``<num>`` for numbers, ``<p>`` for sentence breaks and ``_`` for any
other word: the vocabulary stays the catalogue's, however many ads pass through.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Iterable

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from . import caps
from .catalogue import Catalogue, Indicator, Pattern
from .text import Token, accent_key, fold_word
from .types import Entity, Hit, Span, severity_rank

__all__ = ["RuleEngine", "Match", "NEGATION_CUES"]

NEGATION_CUES = frozenset({"khong", "chang", "mien", "chua", "no", "not", "never", "without", "dont", "zero", "none"})
NEGATION_BIGRAMS = frozenset({("nghiem", "cam"), ("tuyet", "doi"), ("cam", "thu"), ("free", "of"), ("cam", "giu")})
SEP, NUM, OTHER = "<p>", "<num>", "_"
_ASCII_LETTERS = re.compile(r"[A-Za-z]")
_MARKED_LETTERS = re.compile(r"[\u00c0-\u024f\u1e00-\u1eff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")  # Chinese characters, as in ads of compounds run from abroad
MONEY_SIGNS = frozenset({"upfront_fee", "brokerage_fee", "fee_over_cap", "irregular_deposit", "personal_account_payment"})
CHAT_WORDS = frozenset({"zalo", "telegram", "inbox", "messenger", "whatsapp", "wechat", "viber", "line"})


@dataclass(frozen=True, slots=True)
class Match:
    label: str  # "ind|<id>|<pattern index>", "place|<key>|<name tokens>", "abroad"
    start: int  # token indices
    end: int


class RuleEngine:
    """Compiled matchers for one catalogue. Build once, reuse for every ad."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        vocab_words: set[str] = set(NEGATION_CUES) | {w for bg in NEGATION_BIGRAMS for w in bg} | CHAT_WORDS
        self._patterns: dict[str, tuple[Indicator, Pattern]] = {}
        phrase_specs: dict[str, list[list[str]]] = defaultdict(list)
        slot_specs: dict[str, tuple] = {}
        for ind in catalogue.indicators.values():
            for k, pat in enumerate(ind.patterns):
                label = f"ind|{ind.id}|{k}"
                self._add_pattern(label, ind, pat, phrase_specs, slot_specs, vocab_words)
            for k, pat in enumerate(ind.excludes):
                self._add_pattern(f"exc|{ind.id}|{k}", ind, pat, phrase_specs, slot_specs, vocab_words)

        for place in catalogue.places:
            for name in place.names:
                phrase_specs[f"place|{place.key}|{len(name)}"].append(list(name))
                vocab_words.update(name)
            for name in place.after_verb:
                for verb in catalogue.verbs:
                    phrase_specs[f"place|{place.key}|{len(name)}"].append(list(verb) + list(name))
                vocab_words.update(name)
        for verb in catalogue.verbs:
            vocab_words.update(verb)
        for phrase in catalogue.abroad:
            phrase_specs["abroad"].append(list(phrase))
            vocab_words.update(phrase)
        self.vocab_words = frozenset(w for w in vocab_words if w not in (NUM, SEP))
        self._doc_vocab = self.vocab_words | {NUM, SEP}
        self.vocab = Vocab()
        self.phrase_matcher = PhraseMatcher(self.vocab, attr="ORTH")
        for label, seqs in phrase_specs.items():
            self.phrase_matcher.add(label, [Doc(self.vocab, words=s) for s in seqs])
        # Patterns with {num} or {gap}: the PhraseMatcher finds one required slot of words
        # (the anchor) and the other slots are checked around it; this stays linear in the
        # text length, where a Matcher with thousands of gap patterns is not.
        self._anchored: dict[str, tuple[str, tuple, int]] = {}
        self._required: dict[str, tuple] = {}
        for label, slots in slot_specs.items():
            idx = _anchor(slots)
            key = f"s|{label}"
            # alternatives longest first, as tuples, so matching does not sort per ad
            # and with the sets of their first and last words, to reject a position at once
            slots = tuple(_word_slot(x) if x != NUM and x[0] == "w" else x for x in slots)
            self._anchored[key] = (label, slots, idx)
            self._required[key] = _required(slots)
            self.phrase_matcher.add(key, [Doc(self.vocab, words=list(alt)) for alt in slots[idx][1]])

    def _add_pattern(self, label, ind, pat, phrase_specs, slot_specs, vocab_words) -> None:
        self._patterns[label] = (ind, pat)
        if pat.is_phrase:
            phrase_specs[label].extend(list(seq) for seq in pat.sequences)
        else:
            slot_specs[label] = pat.slots
        vocab_words.update(pat.words)

    # -- matching ------------------------------------------------------------------------

    def doc_words(self, tokens: list[Token]) -> list[str]:
        vw = self._doc_vocab  # the catalogue's words, <num> and <p> (no word token has those norms)
        return [n if n in vw else OTHER for n in map(itemgetter(0), tokens)]

    def match(self, tokens: list[Token], raw: str) -> list[Match]:
        """All matches of patterns, places and "abroad" phrases, as token spans. Where the ad
        writes a matched word with diacritics they must agree with the pattern's ("tiền cò"
        is a broker's fee, "ưu tiên có" is not, though both fold to "tien co"); words inside
        a {gap} are not compared."""
        if not tokens:
            return []
        words = self.doc_words(tokens)
        doc = Doc(self.vocab, words=words)
        strings = self.vocab.strings
        agree = _Agreement(raw, tokens)
        found = set()
        present: set[str] | None = None
        possible: dict[str, bool] = {}  # per anchored pattern: does the ad have all its required words?
        for mid, s, e in self.phrase_matcher(doc):
            label = strings[mid]
            if label.startswith("s|"):
                ok = possible.get(label)
                if ok is None:
                    if present is None:
                        present = set(words)
                    ok = possible[label] = _possible(self._required[label], present)
                if not ok:
                    continue  # an anchor of a common word, in an ad without the pattern's other words
                target, slots, idx = self._anchored[label]
                if not all(agree(i, slots[idx][2]) for i in range(s, e)):
                    continue
                start = _match_back(slots, idx - 1, s - 1, words, agree)
                end = _match_fwd(slots, idx + 1, e, words, agree) if start is not None else None
                if start is not None and end is not None:
                    found.add((target, start, end))
            elif label in self._patterns:
                accents = self._patterns[label][1].accents
                if all(agree(i, accents) for i in range(s, e)):
                    found.add((label, s, e))
            else:
                found.add((label, s, e))
        return [Match(lbl, s, e) for lbl, s, e in sorted(found, key=lambda x: (x[1], x[2], x[0]))]

    # -- places and facts ----------------------------------------------------------------

    def places(self, raw: str, tokens: list[Token], matches: Iterable[Match]) -> list[Entity]:
        by_key = {p.key: p for p in self.catalogue.places}
        out: dict[tuple[str, int, int], Entity] = {}
        for m in matches:
            if m.label.startswith("place|"):
                _, key, n = m.label.split("|")
                s = m.end - int(n)
                rs, re_ = tokens[s].start, tokens[m.end - 1].end
                p = by_key[key]
                attrs = (("market", p.market), ("route", p.route), ("town", p.town), ("name_vi", p.name["vi"]))
                out[(key, rs, re_)] = Entity("place", Span(rs, re_, raw[rs:re_]), key, attrs)
            elif m.label == "abroad":
                rs, re_ = tokens[m.start].start, tokens[m.end - 1].end
                out[("abroad", rs, re_)] = Entity("abroad", Span(rs, re_, raw[rs:re_]), "abroad")
        # drop places nested inside a longer place span
        ents = sorted(out.values(), key=lambda e: (e.span.start, -(e.span.end - e.span.start)))
        kept: list[Entity] = []
        for e in ents:
            if kept and kept[-1].kind == e.kind and e.span.end <= kept[-1].span.end and e.span.start >= kept[-1].span.start:
                continue
            kept.append(e)
        return kept

    def facts(self, entities: list[Entity], tokens: list[Token], money_hits: set[str], raw: str | None = None) -> set[str]:
        facts: set[str] = set()
        kinds = {e.kind for e in entities}
        places = [e for e in entities if e.kind == "place"]
        if places or "abroad" in kinds:
            facts.add("overseas")
        if any(e.attr("route") == "sea" for e in places):
            facts.add("sea_route")
        if money_hits or any(e.kind == "money" and e.attr("role") in ("fee", "deposit") for e in entities):
            facts.add("money_asked")
        if "company" not in kinds and "licence" not in kinds:
            facts.add("no_named_employer")
        if kinds & {"zalo", "telegram", "facebook", "handle"} or not CHAT_WORDS.isdisjoint(map(itemgetter(0), tokens)):
            facts.add("chat_contact")
        if any(e.kind == "age" and e.attr("form") in ("from", "range") and e.value < 18 for e in entities):
            facts.add("minor_age")
        rates = self.catalogue.caps.get("rates_to_vnd", {})
        if any(_high_pay(e, rates) for e in entities):
            facts.add("high_pay")
        if raw is not None and len(_HAN.findall(raw[:20000])) >= 4:
            facts.add("foreign_script")
        return facts

    # -- hits ----------------------------------------------------------------------------

    def hits(
        self,
        raw: str,
        tokens: list[Token],
        matches: list[Match],
        entities: list[Entity],
    ) -> tuple[list[Hit], set[str]]:
        """Turn matches into hits: negation, then the facts each sign needs or that raise it,
        then the detectors. Returns the hits (counted or not, with why) and the facts."""
        words: list[str] = []  # norms and sentence/clause starts, made when a negation is checked
        sent_start: list[int] = []
        clause_start: list[int] = []
        per_ind: dict[str, list[tuple[Match, Pattern]]] = defaultdict(list)
        negated: dict[str, list[tuple[Match, str]]] = defaultdict(list)
        excluded: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for m in matches:
            if m.label.startswith("exc|"):
                excluded[m.label.split("|")[1]].append((m.start, m.end))
        for m in matches:
            if not m.label.startswith("ind|"):
                continue
            ind, pat = self._patterns[m.label]
            if any(s < m.end and m.start < e for s, e in excluded.get(ind.id, ())):
                continue  # an exclusion of the rule covers this match ("ưu tiên có")
            cue = None
            if ind.negation and tokens[m.start].norm not in NEGATION_CUES:
                if not words:
                    words = list(map(itemgetter(0), tokens))
                    sent_start, clause_start = _boundaries(tokens)
                cue = _negation(words, tokens, m.start, m.end, sent_start, clause_start)
            if cue:
                negated[ind.id].append((m, cue))
            else:
                per_ind[ind.id].append((m, pat))

        raw_hits: list[tuple[Indicator, str, list[Span], list[str]]] = []
        for ind_id, ms in per_ind.items():
            ind = self.catalogue.indicators[ind_id]
            spans = _merge([(tokens[m.start].start, tokens[m.end - 1].end) for m, _ in ms], raw)
            sev = max((p.severity or ind.severity for _, p in ms), key=severity_rank)
            sources = sorted({f"pattern '{_short(p.source)}' ({p.lang})" for _, p in ms})
            raw_hits.append((ind, sev, spans, sources[:3]))

        money_hits = {ind.id for ind, *_ in raw_hits if ind.id in MONEY_SIGNS}
        facts = self.facts(entities, tokens, money_hits, raw)

        # detectors (arithmetic the data cannot say)
        for det_ind, sev, spans, why in caps.detect(self.catalogue, raw, entities, facts):
            if det_ind not in self.catalogue.indicators:
                continue
            ind = self.catalogue.indicators[det_ind]
            if det_ind in money_hits or det_ind in MONEY_SIGNS:
                money_hits.add(det_ind)
            raw_hits.append((ind, sev, spans, why))
        if money_hits:
            facts.add("money_asked")

        # merge per indicator, then apply context
        merged: dict[str, tuple[Indicator, str, list[Span], list[str]]] = {}
        for ind, sev, spans, why in raw_hits:
            if ind.id in merged:
                _, s0, sp0, w0 = merged[ind.id]
                sev = max(sev, s0, key=severity_rank)
                spans = _merge([(s.start, s.end) for s in sp0 + spans], raw)
                why = w0 + [w for w in why if w not in w0]
            merged[ind.id] = (ind, sev, spans, why)

        out: list[Hit] = []
        for ind, sev, spans, why in merged.values():
            why = list(why)
            counted = True
            if ind.requires and not facts.intersection(ind.requires):
                counted = False
                why.append(f"not counted: needs {' or '.join(ind.requires)}")
            else:
                for when, esc in ind.escalate:
                    if facts.issuperset(when) and severity_rank(esc) > severity_rank(sev):
                        why.append(f"raised from {sev} to {esc}: {' + '.join(when)}")
                        sev = esc
            out.append(Hit(ind.id, sev, tuple(spans), tuple(why), counted))
        for ind_id, ms in negated.items():
            if ind_id in merged:
                continue
            spans = _merge([(tokens[m.start].start, tokens[m.end - 1].end) for m, _ in ms], raw)
            cue = ms[0][1]
            ind = self.catalogue.indicators[ind_id]
            out.append(Hit(ind_id, ind.severity, tuple(spans), (f"not counted: negated by '{cue}'",), False))
        out.sort(key=lambda h: (not h.counted, -severity_rank(h.severity), h.indicator))
        return out, facts


@lru_cache(maxsize=65536)
def _written_key(w: str, norm: str) -> str | None:
    """The accent key of a word as written (lower case), when it is written with diacritics
    and is not shorthand (its folded form is its norm); None otherwise."""
    f = fold_word(w)
    return accent_key(w) if f != w and f == norm else None


class _Agreement:
    """Compares the diacritics of a token with a pattern's spelling (lazily, per ad)."""

    def __init__(self, raw: str, tokens: list[Token]):
        self.raw = raw
        self.tokens = tokens
        self._accented: bool | None = None

    def _shared(self, i: int) -> bool:
        """Did this token's raw span give several words ("xkld" -> "xuat khau lao dong")?
        Those tokens sit next to each other with the same span."""
        t = self.tokens[i]
        return (i > 0 and self.tokens[i - 1][1:3] == t[1:3]) or (i + 1 < len(self.tokens) and self.tokens[i + 1][1:3] == t[1:3])

    def key(self, i: int) -> str | None:
        t = self.tokens[i]
        if t.kind != "word" or self._shared(i):
            return None
        return _written_key(self.raw[t.start:t.end].lower(), t.norm)

    @property
    def accented(self) -> bool:
        """Is the ad written with diacritics? Then a word written without them is another
        word ("lao động" is not "Lào")."""
        if self._accented is None:
            head = self.raw[:4000]
            plain = len(_ASCII_LETTERS.findall(head))
            marked = len(_MARKED_LETTERS.findall(head))  # Latin letters with diacritics
            self._accented = plain + marked >= 20 and marked >= 0.08 * (plain + marked)
        return self._accented

    def __call__(self, i: int, accents: dict) -> bool:
        if not accents:
            return True
        forms = accents.get(self.tokens[i].norm)
        if not forms or None in forms:
            return True
        k = self.key(i)
        if k is None:
            t = self.tokens[i]
            if not self.accented or t.kind != "word" or self._shared(i):
                return True
            w = self.raw[t.start:t.end].lower()
            return not (w.isascii() and w == t.norm)  # plain letters where the pattern has marks
        return k in forms


def _short(s: str, n: int = 90) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _anchor(slots: tuple) -> int:
    """The most selective required slot of words: the anchor the PhraseMatcher looks for."""
    best, best_len = -1, -1
    for i, slot in enumerate(slots):
        if slot != NUM and slot[0] == "w" and () not in slot[1]:
            shortest = min(len(a) for a in slot[1])
            if shortest > best_len:
                best, best_len = i, shortest
    if best < 0:
        raise ValueError("a pattern needs at least one required word")
    return best


def _required(slots: tuple) -> tuple[tuple[frozenset[str], tuple[frozenset[str], ...]], ...]:
    """For each required slot of words, (its one-word alternatives, its longer alternatives as
    sets of words): a pattern can only match an ad that has, for every such slot, all the words
    of one alternative."""
    out = []
    for slot in slots:
        if slot != NUM and slot[0] == "w" and () not in slot[1]:
            singles = frozenset(alt[0] for alt in slot[1] if len(alt) == 1)
            longer = tuple(frozenset(alt) for alt in slot[1] if len(alt) > 1)
            out.append((singles, longer))
    return tuple(out)


def _possible(required: tuple, present: set[str]) -> bool:
    for singles, longer in required:
        if singles.isdisjoint(present) and not any(alt <= present for alt in longer):
            return False
    return True


def _word_slot(x: tuple) -> tuple:
    """("w", alternatives longest first, accents, first words, last words); the word sets are
    None when the slot may be empty."""
    alts = tuple(sorted(x[1], key=len, reverse=True))
    optional = any(len(a) == 0 for a in alts)
    firsts = None if optional else frozenset(a[0] for a in alts)
    lasts = None if optional else frozenset(a[-1] for a in alts)
    return ("w", alts, x[2], firsts, lasts)


def _match_fwd(slots: tuple, i: int, pos: int, words: list[str], agree) -> int | None:
    """Match slots[i:] at words[pos:]; the end position (shortest gaps first) or None."""
    if i == len(slots):
        return pos
    slot = slots[i]
    if slot == NUM:
        return _match_fwd(slots, i + 1, pos + 1, words, agree) if pos < len(words) and words[pos] == NUM else None
    if slot[0] == "gap":
        for k in range(slot[1] + 1):
            if k and (pos + k - 1 >= len(words) or words[pos + k - 1] == SEP):
                break
            end = _match_fwd(slots, i + 1, pos + k, words, agree)
            if end is not None:
                return end
        return None
    _, alts, acc, firsts, _ = slot
    if firsts is not None and (pos >= len(words) or words[pos] not in firsts):
        return None
    for alt in alts:
        n = len(alt)
        if tuple(words[pos:pos + n]) == alt and all(agree(pos + j, acc) for j in range(n)):
            end = _match_fwd(slots, i + 1, pos + n, words, agree)
            if end is not None:
                return end
    return None


def _match_back(slots: tuple, i: int, pos: int, words: list[str], agree) -> int | None:
    """Match slots[:i+1] backwards, the last one ending at words[pos]; the start or None."""
    if i < 0:
        return pos + 1
    slot = slots[i]
    if slot == NUM:
        return _match_back(slots, i - 1, pos - 1, words, agree) if pos >= 0 and words[pos] == NUM else None
    if slot[0] == "gap":
        for k in range(slot[1] + 1):
            if k and (pos - k + 1 < 0 or words[pos - k + 1] == SEP):
                break
            start = _match_back(slots, i - 1, pos - k, words, agree)
            if start is not None:
                return start
        return None
    _, alts, acc, _, lasts = slot
    if lasts is not None and (pos < 0 or words[pos] not in lasts):
        return None
    for alt in alts:
        n = len(alt)
        if n == 0:
            start = _match_back(slots, i - 1, pos, words, agree)
        elif pos - n + 1 >= 0 and tuple(words[pos - n + 1:pos + 1]) == alt and all(agree(pos - n + 1 + j, acc) for j in range(n)):
            start = _match_back(slots, i - 1, pos - n, words, agree)
        else:
            continue
        if start is not None:
            return start
    return None


# Pay "out of line" with ordinary work (INDICATORS.md): 15 million VND a month, 500,000 a day,
# 100,000 an hour or more. Foreign amounts are converted at the rates of rules/caps.yaml.
_HIGH_PAY_VND = {"month": 15_000_000, None: 15_000_000, "day": 500_000, "hour": 100_000}


def _high_pay(e: Entity, rates: dict) -> bool:
    if e.kind != "money" or e.attr("role") not in ("salary", None, "commission"):
        return False
    floor = _HIGH_PAY_VND.get(e.attr("period"))
    rate = rates.get(e.attr("currency"))
    if floor is None or rate is None:
        return False
    if e.attr("period") is None and e.attr("role") is None:
        return False
    return e.attr("max") * rate >= floor


def _boundaries(tokens: list[Token]) -> tuple[list[int], list[int]]:
    sent, clause = [0] * len(tokens), [0] * len(tokens)
    s = c = 0
    for i, t in enumerate(tokens):
        if t.kind == "sep":
            s = c = i + 1
        elif t.clause:
            c = i
        sent[i], clause[i] = s, c
    return sent, clause


# "không cần X", "không yêu cầu X" deny a requirement, not a charge: they do not carry over a comma.
_NOT_DENIALS = frozenset({"can", "yeu", "need", "needed", "require", "required", "phan", "gioi", "qua"})


def _negation(words: list[str], tokens: list[Token], start: int, end: int, sent: list[int], clause: list[int]) -> str | None:
    lo = clause[start]
    for j in range(max(lo, start - 4), start):
        if words[j] in NEGATION_CUES:
            return tokens[j].norm
        if j + 1 < len(words) and (words[j], words[j + 1]) in NEGATION_BIGRAMS:
            return f"{words[j]} {words[j + 1]}"
    if lo == start and start > sent[start] and tokens[start - 1].kind != "sep":
        # a list after a comma carries the denial of the clause before it:
        # "không thu phí môi giới, phí hồ sơ" — but not "không cần kinh nghiệm, giữ hộ chiếu"
        prev_lo = clause[start - 1]
        for j in range(prev_lo, start):
            if words[j] in NEGATION_CUES and not (j + 1 < len(words) and words[j + 1] in _NOT_DENIALS):
                return tokens[j].norm
    # "phí môi giới: không"
    if end < len(words) and words[end] == "khong" and (end + 1 == len(words) or words[end + 1] in (SEP, "co", "thu", "mat")):
        return "khong"
    return None


def _merge(pairs: list[tuple[int, int]], raw: str) -> list[Span]:
    pairs = sorted(set(pairs))
    out: list[list[int]] = []
    for s, e in pairs:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [Span(s, e, raw[s:e]) for s, e in out]
