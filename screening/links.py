"""Links between postings: a graph of postings and the identifiers they carry (normalised
phone, Zalo, Telegram, e-mail, bank account, domain, firm name), whose connected components are
networks; and near-duplicate groups of ad texts (MinHash LSH over word 3-shingles), so a template
reposted under ten names is seen as one.

Both work in one pass over the postings and hold only identifiers and signatures, not texts.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import OrderedDict, defaultdict
from typing import Any, Iterable

from .markup import mask_markup
from .registry import normalise_name
from .types import Entity

__all__ = ["identifiers", "LinkGraph", "NearDuplicates", "shared_identifier_signs", "fingerprint", "band_keys", "similarity"]

LINK_KINDS = ("phone", "zalo", "telegram", "email", "bank_account", "domain", "company", "facebook")
# Identifiers that many unrelated postings share (platform addresses): never links.
_NOISE = re.compile(r"^(gmail\.com|yahoo\.com|facebook\.com|zalo\.me|t\.me|fb\.com|youtube\.com|tiktok\.com|google\.com)$")


def identifiers(entities: Iterable[Entity]) -> set[tuple[str, str]]:
    """(kind, normalised value) of the identifiers in an ad's entities. A Zalo number is the
    phone it is; a firm name is its normalised name."""
    out: set[tuple[str, str]] = set()
    for e in entities:
        if e.kind not in LINK_KINDS:
            continue
        kind = "phone" if e.kind == "zalo" else e.kind
        value = str(e.value)
        if kind == "company":
            value = normalise_name(value)
            if len(value) < 4:
                continue
        elif kind == "domain":
            value = value.lower()
            if _NOISE.match(value):
                continue
        elif kind == "email":
            value = value.lower()
        out.add((kind, value))
    return out


class LinkGraph:
    """Union-find over postings and identifiers."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self.ids_of: dict[str, set[tuple[str, str]]] = {}
        self.postings_of: dict[tuple[str, str], set[str]] = defaultdict(set)

    def _find(self, x: str) -> str:
        parent = self._parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra < rb else (rb, ra)
            self._parent[hi] = lo

    def add(self, posting_id: str, ids: Iterable[tuple[str, str]]) -> None:
        node = "p:" + posting_id
        self._find(node)
        ids = set(ids)
        self.ids_of[posting_id] = ids
        for kind, value in ids:
            self.postings_of[(kind, value)].add(posting_id)
            self._union(node, f"i:{kind}:{value}")

    def component(self, posting_id: str) -> str:
        return self._find("p:" + posting_id)

    def networks(self, min_postings: int = 2) -> list[list[str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for pid in self.ids_of:
            groups[self.component(pid)].append(pid)
        return sorted((sorted(g) for g in groups.values() if len(g) >= min_postings), key=len, reverse=True)

    def linked(self, posting_id: str) -> dict[str, list[tuple[str, str]]]:
        """Other postings sharing an identifier with this one, each with what they share."""
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for ident in self.ids_of.get(posting_id, ()):
            for other in self.postings_of[ident]:
                if other != posting_id:
                    out[other].append(ident)
        return dict(out)


def shared_identifier_signs(graph: LinkGraph) -> list[dict]:
    """Agency-level signs: one phone (or Zalo, bank account, e-mail) under several firm names.
    Each sign names the shared identifier (the evidence) and the firms and postings."""
    signs = []
    for (kind, value), posts in graph.postings_of.items():
        if kind not in ("phone", "bank_account", "email", "telegram") or len(posts) < 2:
            continue
        firms = sorted({v for p in posts for k, v in graph.ids_of[p] if k == "company"})
        if len(firms) >= 2:
            signs.append({"sign": "shared_contact", "identifier": {"kind": kind, "value": value},
                          "firms": firms, "postings": sorted(posts)})
    return signs


# -- near duplicates -------------------------------------------------------------------------
#
# One implementation, used by the batch scan (``screening.scan``, with a window), the service
# (which keeps the band keys of ``band_keys`` in a table) and the benchmark.

SHINGLE_WORDS = 3
NUM_PERM = 64
BANDS, ROWS = 8, 8           # LSH: 8 bands of 8 rows; a pair at Jaccard 0.8 is found 99% of the time
NEAR_THRESHOLD = 0.8         # estimated Jaccard of word 3-shingles for a near duplicate
MIN_WORDS = 12               # shorter texts (titles) are grouped by exact match only
MAX_CHARS = 100_000          # the head that is fingerprinted, as the screener screens (a longer text is not an ad)
_WORD = re.compile(r"\w+")
_PERMS: Any = None
_FOLD: Any = None


def _perms() -> Any:
    global _PERMS
    if _PERMS is None:
        import numpy as np

        rng = np.random.RandomState(20251128)
        a = rng.randint(1, 1 << 62, size=NUM_PERM, dtype=np.int64).astype(np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.randint(0, 1 << 62, size=NUM_PERM, dtype=np.int64).astype(np.uint64)
        _PERMS = (a, b)
    return _PERMS


def _fold(text: str) -> str:
    global _FOLD
    if _FOLD is None:
        from . import text as t

        _FOLD = getattr(t, "fold_word", t.fold)  # fold() without the offset map, when there is one
    return _FOLD(text)


def fingerprint(text: str, title: str | None = None, company: str | None = None) -> tuple[int, bytes | None]:
    """``(exact key, MinHash signature or None)`` of a posting: the key hashes the folded text
    (lower case, no diacritics, whitespace collapsed) with its title and company; the signature
    is a MinHash of its word 3-shingles (``NUM_PERM`` 32-bit values), None for short texts.
    Both are the same in every process and on every run (they can be stored). They read the
    first ``MAX_CHARS`` characters, HTML masked, like the screener."""
    import numpy as np

    full = "\n".join(x for x in (title, company, text) if x)[:MAX_CHARS]
    full = mask_markup(full) or full  # an ad and its HTML copy are the same posting (the padding folds away)
    norm = " ".join(_fold(full).split())
    key = int.from_bytes(hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest(), "little", signed=True)
    words = _WORD.findall(norm)
    if len(words) < MIN_WORDS:
        return key, None
    wh = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in words), dtype=np.uint64, count=len(words))
    with np.errstate(over="ignore"):
        sh = wh[:-2] * np.uint64(0x9E3779B97F4A7C15) + wh[1:-1]
        sh *= np.uint64(0xC2B2AE3D27D4EB4F)
        sh += wh[2:]
        a, b = _perms()
        hv = np.multiply.outer(sh, a)  # multiply-shift hashing: (a*x + b) mod 2^64, high 32 bits
        hv += b
    return key, (hv.min(axis=0) >> np.uint64(32)).astype(np.uint32).tobytes()


def band_keys(sig: bytes) -> tuple[int, ...]:
    """The LSH keys of a signature, one a band (signed 64-bit, band number included, stable
    across processes so a database can index them)."""
    w = ROWS * 4
    return tuple(int.from_bytes(hashlib.blake2b(sig[i * w:(i + 1) * w], digest_size=8, person=b"band%d" % i).digest(),
                                "little", signed=True) for i in range(BANDS))


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures."""
    import numpy as np

    return float(np.count_nonzero(np.frombuffer(a, np.uint32) == np.frombuffer(b, np.uint32))) / NUM_PERM


class NearDuplicates:
    """Groups reposts: the same folded text is an exact duplicate; a MinHash LSH over word
    3-shingles finds near duplicates (estimated Jaccard at least ``NEAR_THRESHOLD``) of earlier
    groups' first postings. A posting's group is the id of its group's first posting and a
    pure function of the postings before it, so replaying a prefix rebuilds the same state.

    With ``window``, only the last ``window`` distinct postings are remembered (FIFO; memory
    bounded, about 1.3 kB a remembered posting) and no per-posting group map is kept: the
    batch scan's mode. Without, every posting's group is kept in ``group_of``."""

    def __init__(self, window: int | None = None):
        if window is not None and window < 1:
            raise ValueError(f"window must be at least 1 (got {window})")
        self.window = window
        self.exact: OrderedDict[int, Any] = OrderedDict()
        self.entries: OrderedDict[int, tuple[bytes, Any, tuple[int, ...]]] = OrderedDict()
        self.tables: list[dict[int, Any]] = [{} for _ in range(BANDS)]
        self.group_of: dict[Any, Any] = {}
        self._next = 0

    def _near(self, sig: bytes, bands: tuple[int, ...]) -> Any:
        cands: set[int] = set()
        for table, bk in zip(self.tables, bands):
            v = table.get(bk)
            if v is None:
                continue
            if isinstance(v, int):
                cands.add(v)
            else:
                cands.update(v)
        for eid in sorted(cands):  # the earliest group that is close enough
            other, group, _ = self.entries[eid]
            if similarity(sig, other) >= NEAR_THRESHOLD:
                return group
        return None

    def _insert(self, sig: bytes, bands: tuple[int, ...], group: Any) -> None:
        eid = self._next
        self._next += 1
        self.entries[eid] = (sig, group, bands if self.window is not None else ())
        for table, bk in zip(self.tables, bands):
            v = table.get(bk)
            if v is None:
                table[bk] = eid
            elif isinstance(v, int):
                table[bk] = [v, eid]
            else:
                v.append(eid)
        if self.window is not None and len(self.entries) > self.window:
            old, (_, _, obands) = self.entries.popitem(last=False)
            for table, bk in zip(self.tables, obands):
                v = table.get(bk)
                if isinstance(v, int):
                    del table[bk]
                elif v is not None:
                    v.remove(old)
                    if len(v) == 1:
                        table[bk] = v[0]

    def assign(self, ident: Any, key: int, sig: bytes | None) -> tuple[Any, str | None]:
        """Group a fingerprinted posting (see :func:`fingerprint`): ``(group, kind)``, kind None
        for the first of a group, else "exact" or "near"."""
        group = self.exact.get(key)
        kind = None
        if group is not None:
            kind = "exact"
        else:
            group = ident
            if sig is not None:
                bands = band_keys(sig)
                near = self._near(sig, bands)
                if near is not None:
                    group, kind = near, "near"
                else:
                    self._insert(sig, bands, ident)
            self.exact[key] = group
            if self.window is not None and len(self.exact) > self.window:
                self.exact.popitem(last=False)
        if self.window is None:
            self.group_of[ident] = group
        return group, kind

    def add(self, posting_id: Any, text: str, title: str | None = None, company: str | None = None) -> Any:
        """Fingerprint and group a posting: its group id."""
        return self.assign(posting_id, *fingerprint(text, title, company))[0]

    def groups(self, min_size: int = 2) -> list[list[Any]]:
        """Groups of at least ``min_size`` postings, largest first (unbounded mode only)."""
        if self.window is not None:
            raise ValueError("groups() needs every posting's group: use NearDuplicates() without a window")
        out: dict[Any, list[Any]] = defaultdict(list)
        for pid, g in self.group_of.items():
            out[g].append(pid)
        return sorted((sorted(v) for v in out.values() if len(v) >= min_size), key=len, reverse=True)
