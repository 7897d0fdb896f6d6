"""Text handling: a folded shadow copy of the raw text with an offset map, and tokens.

Every span the library reports indexes the *raw* input. Matching works on a shadow copy in
which case, diacritics, compatibility forms (fullwidth or "math bold" letters), zero-width and
bidi characters no longer matter; :class:`Shadow` maps any shadow span back to the raw text.

Tokens carry a normalised form (``norm``) with chat shorthand expanded ("ko" -> "khong",
"xkld" -> "xuat khau lao dong"); a token may expand to several words, all pointing at the same
raw span.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

__all__ = ["Shadow", "Token", "fold", "shadow", "tokenize", "accent_key", "SHORTHAND", "NUMBER_SUFFIX"]

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def accent_key(word: str) -> str:
    """A word's diacritics in a form that ignores where the tone mark sits: old and new
    placements ("uỷ"/"ủy", "hoà"/"hòa", "khoẻ"/"khỏe") give the same key."""
    d = unicodedata.normalize("NFD", word.lower())
    tones = "".join(sorted(c for c in d if c in _TONE_MARKS))
    return unicodedata.normalize("NFC", "".join(c for c in d if c not in _TONE_MARKS)) + tones

# Characters removed outright (zero output): zero-width, soft hyphen, bidi controls, BOM.
_DROP = set(
    "\u00ad\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)


def _fold_char(ch: str) -> str:
    """The folded form of one character: may be '', one or several characters."""
    if ch in _DROP:
        return ""
    if ch in "đĐ":
        return "d"
    decomposed = unicodedata.normalize("NFKD", ch)
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    out = out.replace("đ", "d").replace("Đ", "D").lower()
    if ch.isspace():
        return "\n" if ch in "\n\r\u2028\u2029\x0b\x0c\x85" else " "
    if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t":
        return " "
    return out


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[int, str], re.Pattern[str]]:
    """A str.translate table that folds every character to exactly one character (an expansion
    such as "…" -> "..." keeps its first character, so the shadow stays aligned), and a regex
    for the characters that fold to nothing (combining marks, invisible and bidi characters):
    only texts with those take the path with an offset map."""
    table: dict[int, str] = {}
    special: list[str] = []
    ranges = [(0, 0x3000), (0xFF00, 0xFFF0), (0x1D400, 0x1D800)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            ch = chr(cp)
            if 0xD800 <= cp <= 0xDFFF:
                continue
            out = _fold_char(ch)
            if not out:
                special.append(ch)
            elif out[0] != ch:
                table[cp] = out[0]
    # Any other combining mark or format character anywhere in Unicode is also special.
    cls = "".join(re.escape(c) for c in special)
    return table, re.compile(f"[{cls}\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


@dataclass(frozen=True, slots=True)
class Shadow:
    """The raw text, its folded shadow and the map between them.

    ``starts[i]`` is the raw index of the character that produced shadow character ``i``;
    ``ends[i]`` the raw index just after it (combining marks that follow are absorbed).
    Both are ``None`` when the shadow is aligned one to one with the raw text.
    """

    raw: str
    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def to_raw(self, start: int, end: int) -> tuple[int, int]:
        """Map a shadow span to the raw span that produced it."""
        if self.starts is None:
            return start, end
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else len(self.raw)
            return pos, pos
        return self.starts[start], self.ends[end - 1]  # type: ignore[index]


@lru_cache(maxsize=1)
def _lookup() -> "numpy.ndarray":  # noqa: F821
    """The translate table as an array indexed by code point (identity where nothing folds)."""
    import numpy as np

    table, _ = _tables()
    lut = np.arange(max(table) + 1, dtype=np.uint32)
    for cp, ch in table.items():
        lut[cp] = ord(ch)
    return lut


def _translate(text: str) -> str:
    """``text.translate(table)``: character by character for short strings, as one array lookup
    for long ones (str.translate with a dict looks up each non-ASCII character in Python
    objects; a posting of 2,000 characters folds about 6x faster this way). Lone surrogates
    (from undecodable bytes) pass through unchanged."""
    if len(text) < 256:
        return text.translate(_tables()[0])
    import numpy as np

    lut = _lookup()
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    folded = lut[np.minimum(cps, len(lut) - 1)]
    beyond = cps >= len(lut)
    if beyond.any():
        folded = np.where(beyond, cps, folded)
    return folded.tobytes().decode("utf-32-le", "surrogatepass")


def fold_word(word: str) -> str:
    """fold() for a short string, without building an offset map."""
    _, special = _tables()
    return special.sub("", _translate(word))  # what fold() gives: the translate table maps no character to a dropped one


def fold(text: str) -> str:
    """Fold a text for matching: lower case, no diacritics, đ -> d, compatibility forms
    decomposed, invisible characters removed. Idempotent."""
    return shadow(text).text


def shadow(raw: str) -> Shadow:
    _, special = _tables()
    folded = _translate(raw)
    drops = [m.start() for m in special.finditer(raw)]
    if not drops:
        return Shadow(raw, folded)
    # Drop the characters that fold to nothing; a combining mark belongs to the character
    # before it, so that character's raw span grows to cover it.
    pieces: list[str] = []
    starts: list[int] = []
    prev = 0
    for p in drops:
        if p > prev:
            pieces.append(folded[prev:p])
            starts.extend(range(prev, p))
        prev = p + 1
    if prev < len(raw):
        pieces.append(folded[prev:])
        starts.extend(range(prev, len(raw)))
    ends = [i + 1 for i in starts]
    if starts:
        j = 0
        for p in drops:
            while j + 1 < len(starts) and starts[j + 1] < p:
                j += 1
            if starts[j] < p and unicodedata.combining(raw[p]) and ends[j] == p:
                ends[j] = p + 1
    return Shadow(raw, "".join(pieces), tuple(starts), tuple(ends))


# --- tokens -----------------------------------------------------------------------------

# Chat shorthand, expanded wherever it stands alone as a word.
SHORTHAND: dict[str, str] = {
    "ko": "khong", "k": "khong", "hok": "khong", "hk": "khong", "khg": "khong", "hem": "khong",
    "lg": "luong", "luongg": "luong",
    "ib": "inbox", "inb": "inbox", "ibx": "inbox",
    "kb": "ket ban", "lh": "lien he", "lhe": "lien he",
    "tele": "telegram", "tl": "telegram", "zl": "zalo", "fb": "facebook", "face": "facebook",
    "bc": "bang cap", "pv": "phong van", "hc": "ho chieu", "vmb": "ve may bay",
    "xkld": "xuat khau lao dong", "xk": "xuat khau",
    "tts": "thuc tap sinh", "dh": "don hang", "ld": "lao dong", "cty": "cong ty",
    "hd": "hop dong", "sdt": "so dien thoai", "dt": "dien thoai",
    "stk": "so tai khoan", "ck": "chuyen khoan", "dc": "duoc", "vs": "voi",
    "nc": "nuoc", "ng": "nguoi", "ngta": "nguoi ta",
    "ctv": "cong tac vien", "kn": "kinh nghiem",
    "tn": "thu nhap", "tnhap": "thu nhap", "mn": "moi nguoi", "xc": "xuat canh", "dlich": "du lich",
}

# Words that change meaning after a number: "15tr", "7 củ", "500k", "40M", "500.000đ".
NUMBER_SUFFIX: dict[str, str] = {
    "tr": "trieu", "cu": "trieu", "m": "trieu", "trieu": "trieu",
    "k": "nghin", "ngan": "nghin", "nghin": "nghin", "ty": "ty", "ti": "ty",
    "d": "dong", "dong": "dong", "vnd": "dong", "do": "usd", "dola": "usd", "usd": "usd",
    "th": "thang", "thg": "thang", "eur": "eur", "euro": "eur", "yen": "yen", "man": "man",
}
# After "/" ("15tr/th", "500k/ng").
SLASH_SUFFIX: dict[str, str] = {
    "th": "thang", "thg": "thang", "t": "thang", "ng": "ngay", "n": "ngay", "h": "gio",
    "ngay": "ngay", "thang": "thang", "gio": "gio", "nam": "nam",
}
SYMBOLS: dict[str, str] = {"$": "usd", "€": "eur", "¥": "yen", "₫": "dong", "%": "phan tram"}

# A token: a number (or a number range), a run of letters, or one other visible character.
_NUM = r"\d+(?:[.,]\d+)*"
_TOKEN_RE = re.compile(
    rf"(?P<num>{_NUM}(?:[ \t]*[-–~][ \t]*{_NUM})?)"
    r"|(?P<word>[^\W\d_]+(?:'[^\W\d_]+)?)"
    r"|(?P<nl>\n)"
    r"|(?P<sym>[^\w\s])"
)
# Runs of single letters separated by one dot, dash, space, star or underscore: "v.i.e.c", "z a l o".
_SPACED_RE = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][.\-_* ]){2,}[^\W\d_](?![^\W\d_])")
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")

BOUNDARY_SYMBOLS = frozenset(".!?;\n•●▪■◆★☆✅✔✓❌➡→⭐️🔥📌👉📞☎📱💰💵")
CLAUSE_SYMBOLS = frozenset(",:()[]|")


class Token(NamedTuple):
    """One normalised word (or placeholder) with the raw span it came from.

    ``kind`` is ``word``, ``num`` or ``sep`` (a sentence boundary); ``clause`` is True when a
    clause or sentence break stands right before the token. (A named tuple: an ad has hundreds
    of tokens and a tuple is the cheapest immutable record Python builds.)
    """

    norm: str
    start: int
    end: int
    kind: str
    clause: bool = False


@lru_cache(maxsize=65536)
def _segment(run: str, vocab: frozenset[str]) -> tuple[str, ...] | None:
    """Split a run of letters glued together ("vieclamnhe") into vocabulary words, or None."""
    n = len(run)
    if n > 40:
        return None
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(min(n, i + 8), i, -1):
            piece = run[i:j]
            if piece in vocab and (best[j] is None or len(best[j]) > len(best[i]) + 1):  # type: ignore[arg-type]
                best[j] = best[i] + [piece]  # type: ignore[operator]
    return tuple(best[n]) if best[n] is not None else None


# Per vocabulary, the norms of a word read on its own (shorthand expanded, repeats squeezed,
# glued words split): most words of an ad were seen in earlier ads, so this is a dict lookup.
_WORD_NORMS: dict[frozenset[str], dict[str, tuple[str, tuple[str, ...]]]] = {}
_WORD_NORMS_MAX = 200_000


def _word_norms(word: str, vocab: frozenset[str]) -> tuple[str, tuple[str, ...]]:
    """(the word after squeezing repeats, its norms) for a word outside any number context."""
    joined = "\u02b9" in word
    if joined:
        word = word.replace("\u02b9", "")
    if word not in vocab and _REPEAT_RE.search(word):
        word = _REPEAT_RE.sub(r"\1", word)
    if word in SHORTHAND:
        norm = SHORTHAND[word]
    elif vocab and word not in vocab and (joined or 8 <= len(word)) and (seg := _segment(word, vocab)):
        norm = " ".join(seg)
    else:
        norm = word
    return word, tuple(norm.split())


def tokenize(sh: Shadow, vocab: frozenset[str] = frozenset()) -> list[Token]:
    """Tokens of a shadow text with norms: shorthand expanded, numbers merged with ranges,
    dotted or spaced-out letters joined, glued words split on the given vocabulary."""
    text = sh.text
    # Join s.p.a.c.e.d letters in a copy of the same length (replace separators by a mark
    # the word regex accepts inside a run), so offsets stay valid.
    if _SPACED_RE.search(text):
        text = _SPACED_RE.sub(lambda m: re.sub(r"[.\-_* ]", "\u02b9", m.group(0)), text)
    cache = _WORD_NORMS.get(vocab)
    if cache is None or len(cache) > _WORD_NORMS_MAX:
        cache = _WORD_NORMS[vocab] = {}
    out: list[Token] = []
    append = out.append
    prev_kind = "sep"
    prev_raw = ""
    clause = True
    identity = sh.starts is None
    to_raw = sh.to_raw
    for m in _TOKEN_RE.finditer(text):
        group = m.lastindex
        rs, re_ = m.span() if identity else to_raw(*m.span())
        if group == 2:  # a word
            got = cache.get(m.group(0))
            if got is None:
                got = cache[m.group(0)] = _word_norms(m.group(0), vocab)
            word, norms = got
            if prev_kind == "num" and word in NUMBER_SUFFIX:
                norms = (NUMBER_SUFFIX[word],)
            elif prev_raw == "/" and word in SLASH_SUFFIX:
                norms = (SLASH_SUFFIX[word],)
            for w in norms:
                append(Token(w, rs, re_, "word", clause))
                clause = False
            prev_kind, prev_raw = "word", word
        elif group == 1:  # a number
            append(Token("<num>", rs, re_, "num", clause))
            clause = False
            prev_kind, prev_raw = "num", m.group(0)
        elif group == 3:  # a new line
            if not out or out[-1].kind != "sep":
                append(Token("<p>", rs, re_, "sep", True))
            clause = True
            prev_kind, prev_raw = "sep", "\n"
        else:
            ch = m.group(0)
            if ch in SYMBOLS:
                for w in SYMBOLS[ch].split():
                    append(Token(w, rs, re_, "word", clause))
                    clause = False
                prev_kind, prev_raw = "word", ch
            elif ch in BOUNDARY_SYMBOLS or unicodedata.category(ch) == "So":
                if out and out[-1].kind != "sep":
                    append(Token("<p>", rs, re_, "sep", True))
                clause = True
                prev_kind, prev_raw = "sep", ch
            else:
                if ch in CLAUSE_SYMBOLS:
                    clause = True
                prev_kind, prev_raw = "sym", ch
    return out


def words(text: str) -> list[str]:
    """The normalised words of a text (patterns are compiled through this, so a pattern and
    the text it should match are normalised the same way)."""
    return [t.norm for t in tokenize(shadow(text)) if t.kind != "sep"]
