"""Links between postings: a graph of postings and the identifiers they carry (normalised
phone, Zalo, Telegram, e-mail, bank account, domain, firm name), whose connected components are
networks; and near-duplicate groups of ad texts (MinHash LSH), so a template reposted under ten
names is seen as one.

Both work in one pass over the postings and hold only identifiers and signatures, not texts.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from .registry import normalise_name
from .text import fold
from .types import Entity

__all__ = ["identifiers", "LinkGraph", "NearDuplicates", "shared_identifier_signs"]

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


@dataclass
class NearDuplicates:
    """Groups near-duplicate texts with MinHash LSH on word 5-shingles of the folded text.
    ``add`` returns the group id (the first posting of the group)."""

    threshold: float = 0.8
    num_perm: int = 64
    shingle: int = 5
    _lsh: object = field(default=None, repr=False)
    group_of: dict[str, str] = field(default_factory=dict)
    _exact: dict[bytes, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)

    def _minhash(self, words: list[str]):
        from datasketch import MinHash

        shingles = {" ".join(words[i:i + self.shingle]) for i in range(max(1, len(words) - self.shingle + 1))}
        m = MinHash(num_perm=self.num_perm, seed=1)
        m.update_batch([s.encode("utf-8") for s in shingles])
        return m

    def add(self, posting_id: str, text: str) -> str:
        words = re.findall(r"\w+", fold(text))
        key = hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=12).digest()
        if key in self._exact:
            group = self.group_of[self._exact[key]]
            self.group_of[posting_id] = group
            return group
        self._exact[key] = posting_id
        if len(words) < self.shingle:
            self.group_of[posting_id] = posting_id
            return posting_id
        m = self._minhash(words)
        near = self._lsh.query(m)  # type: ignore[attr-defined]
        group = min((self.group_of[n] for n in near), default=posting_id)
        self._lsh.insert(posting_id, m)  # type: ignore[attr-defined]
        self.group_of[posting_id] = group
        return group

    def groups(self, min_size: int = 2) -> list[list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for pid, g in self.group_of.items():
            out[g].append(pid)
        return sorted((sorted(v) for v in out.values() if len(v) >= min_size), key=len, reverse=True)
