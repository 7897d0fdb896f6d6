"""Who is behind an ad: resolving the firm names, licence numbers, phones and web sites an ad
gives to the licensed registry (``screening.registry``), with a confidence, and what
contradicts (a licence number of another firm, a look-alike domain).

``licence_status`` is the registry's status of the resolved firm, or ``unlicensed`` when the ad
recruits for work abroad and no licensed firm stands behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from .registry import Firm, normalise_domain, normalise_name

__all__ = ["Resolution", "Resolver", "NAME_THRESHOLD"]

NAME_THRESHOLD = 88  # rapidfuzz score (0-100) at which a written name is taken as the firm's
MIN_CORE = 5  # a distinctive part shorter than this ("viet") names nobody


@dataclass(frozen=True)
class Resolution:
    firm: Firm | None
    confidence: float  # 0..1
    via: tuple[str, ...] = ()  # how it was resolved: "name 94", "phone +84…", "licence …", "website …"
    contradictions: tuple[str, ...] = ()  # what points elsewhere

    @property
    def status(self) -> str | None:
        return self.firm.status if self.firm else None


class Resolver:
    """An index of the registry for resolving ads. Build once per registry version."""

    def __init__(self, firms: Iterable[Firm]):
        self.firms = list(firms)
        self._norm = [f.norm_name for f in self.firms]
        self._core = [f.core_name for f in self.firms]
        self._by_phone = {p: f for f in self.firms for p in f.phones}
        self._by_site = {d: f for f in self.firms for d in f.websites}
        self._by_licence = {_licence_key(f.licence_no): f for f in self.firms}

    def by_name(self, name: str) -> tuple[Firm | None, float]:
        """The registry firm a written name most likely means, with its score (0-100)."""
        norm, core = normalise_name(name), normalise_name(name, keep_trade=False)
        best: tuple[Firm | None, float] = (None, 0.0)
        if norm and self._norm:
            hit = process.extractOne(norm, self._norm, scorer=fuzz.token_set_ratio)
            if hit and hit[1] > best[1]:
                best = (self.firms[hit[2]], float(hit[1]))
        if len(core) >= MIN_CORE and self._core:
            hit = process.extractOne(core, self._core, scorer=fuzz.ratio)
            if hit and len(self._core[hit[2]]) >= MIN_CORE and hit[1] > best[1]:
                best = (self.firms[hit[2]], float(hit[1]))
        return best

    def lookalike(self, domain: str) -> Firm | None:
        """A registry firm whose web site this domain imitates (a near spelling, or the same
        name under another ending), when it is not the firm's own."""
        d = normalise_domain(domain)
        if d is None or d in self._by_site:
            return None
        head = d.split(".")[0]
        for site, firm in self._by_site.items():
            s_head = site.split(".")[0]
            if len(s_head) >= 5 and (Levenshtein.distance(head, s_head) <= 2 or s_head in head):
                return firm
        return None

    def resolve(
        self,
        names: Iterable[str] = (),
        phones: Iterable[str] = (),
        domains: Iterable[str] = (),
        licences: Iterable[str] = (),
    ) -> Resolution:
        votes: dict[str, float] = {}
        via: dict[str, list[str]] = {}
        firms: dict[str, Firm] = {}
        contradictions: list[str] = []

        def vote(f: Firm, weight: float, why: str) -> None:
            votes[f.key] = max(votes.get(f.key, 0.0), weight)
            via.setdefault(f.key, []).append(why)
            firms[f.key] = f

        for n in names:
            f, score = self.by_name(n)
            if f is not None and score >= NAME_THRESHOLD:
                vote(f, score / 100.0 * 0.9, f"name {n!r} ~ {f.name!r} ({score:.0f})")
        for p in phones:
            if p in self._by_phone:
                vote(self._by_phone[p], 0.95, f"phone {p}")
        for d in domains:
            dn = normalise_domain(d)
            if dn in self._by_site:
                vote(self._by_site[dn], 0.95, f"website {dn}")
            elif dn and (f := self.lookalike(dn)) is not None:
                contradictions.append(f"look-alike domain {dn} of {f.name} ({', '.join(f.websites)})")
        for lic in licences:
            f = self._by_licence.get(_licence_key(lic))
            if f is not None:
                vote(f, 0.9, f"licence {lic}")
            else:
                contradictions.append(f"licence {lic} is not in the registry")
        if not votes:
            return Resolution(None, 0.0, (), tuple(contradictions))
        best = max(votes, key=lambda k: (votes[k], len(via[k])))
        for k, f in firms.items():
            if k != best:
                contradictions.append(f"{'; '.join(via[k])} point to {f.name}, not {firms[best].name}")
        confidence = min(1.0, votes[best] + 0.05 * (len(via[best]) - 1))
        return Resolution(firms[best], round(confidence, 3), tuple(via[best]), tuple(contradictions))

    @staticmethod
    def licence_status(resolution: Resolution, recruits_abroad: bool) -> str | None:
        """active / revoked / suspended / surrendered from the registry, ``unlicensed`` when
        the ad recruits for work abroad and no licensed firm stands behind it, else None."""
        if resolution.firm is not None:
            return resolution.firm.status
        return "unlicensed" if recruits_abroad else None


def _licence_key(lic: str) -> str:
    return "".join(ch for ch in lic.upper() if ch.isalnum())
