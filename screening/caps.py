"""The detectors: signs that need arithmetic, not words.

- ``fee_over_cap``: a service fee against the cap of L69 Art. 23(4) and TT02 Annex XI;
- ``deposit_over_cap``: a deposit against NĐ112 Annex II;
- ``minor_age``: an age under 18 in a recruiting phrase;
- ``long_hours``: 14 or more hours of work a day.

The caps and rates are data (``rules/caps.yaml``); only the arithmetic lives here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

from .text import fold
from .types import Entity, Span

if TYPE_CHECKING:
    from .catalogue import Catalogue

__all__ = ["detect", "fee_cap", "vnd", "format_vnd"]


def format_vnd(x: float) -> str:
    """28000000 -> '28.000.000 đ' (Vietnamese grouping)."""
    return f"{x:,.0f}".replace(",", ".") + " đ"


def vnd(amount: float, currency: str, caps: dict[str, Any]) -> float:
    rate = caps.get("rates_to_vnd", {}).get(currency)
    if rate is None:
        raise KeyError(currency)
    return amount * float(rate)


def _fmt_months(m: float) -> str:
    return f"{m:g}"


def fee_cap(caps: dict[str, Any], market: str | None, folded_text: str, months: float | None) -> tuple[float, str, str]:
    """The cap on the service fee, in months of salary, for a market, the job words of the ad
    and a contract length. Returns (months of salary, how it was computed, legal reference)."""
    sf = caps["service_fee"]
    rule = dict(sf["default"])
    for special in sf.get("special", []):
        if market in special["markets"] and any(re.search(rf"\b{re.escape(fold(j))}\b", folded_text) for j in special["jobs"]):
            rule = special
            break
    assumed = months is None
    n = float(months if months is not None else sf.get("assumed_months", 36))
    per12, top = float(rule["months_per_12"]), float(rule["max_months"])
    cap_months = min(per12 * n / 12.0, top)
    how = f"{_fmt_months(per12)} tháng lương/12 tháng × {n:g} tháng, tối đa {_fmt_months(top)}"
    if assumed:
        how += f" (không ghi thời hạn: giả định {n:g} tháng)"
    return cap_months, how, rule.get("ref", sf["default"].get("ref", "L69 Art. 23(4)"))


def _money(entities: list[Entity], role: str) -> list[Entity]:
    roles = ("fee", "service_fee") if role == "fee" else (role,)
    return [e for e in entities if e.kind == "money" and e.attr("role") in roles]


def monthly_vnd(e: Entity, caps: dict[str, Any]) -> float | None:
    """A salary as VND a month (the top of a range); None when it cannot be said."""
    per = e.attr("period")
    factor = {"month": 1.0, None: 1.0, "day": 26.0, "hour": 26.0 * 8, "week": 4.33, "year": 1 / 12}.get(per)
    if factor is None:
        return None
    try:
        return vnd(e.attr("max"), e.attr("currency"), caps) * factor
    except KeyError:
        return None


def detect(catalogue: "Catalogue", raw: str, entities: list[Entity], facts: set[str]) -> Iterator[tuple[str, str, list[Span], list[str]]]:
    """Yield (indicator id, severity, evidence spans, why) for every detector listed by an
    indicator of the catalogue."""
    wanted = {d: ind.id for ind in catalogue.indicators.values() for d in ind.detectors}
    caps = catalogue.caps
    places = [e for e in entities if e.kind == "place"]
    market = places[0].attr("market") if places else None
    if "fee_over_cap" in wanted and "overseas" in facts:
        yield from _fee_over_cap(wanted["fee_over_cap"], caps, raw, entities, market)
    if "lump_sum_fee" in wanted and "overseas" in facts:
        yield from _lump_sum(wanted["lump_sum_fee"], caps, entities)
    if "deposit_over_cap" in wanted and "overseas" in facts:
        yield from _deposit(wanted["deposit_over_cap"], caps, entities, market)
    if "minor_age" in wanted:
        for e in entities:
            if e.kind == "age" and e.attr("form") in ("from", "range") and 12 <= e.value < 18:
                yield wanted["minor_age"], "critical", [e.span], [f"detector minor_age: recruits from age {e.value} (under 18)"]
    if "long_hours" in wanted:
        for e in entities:
            if e.kind == "hours" and e.value >= 14:
                yield wanted["long_hours"], "high", [e.span], [f"detector long_hours: {e.value} hours a day"]


def _fee_over_cap(ind_id: str, caps: dict, raw: str, entities: list[Entity], market: str | None):
    fees = _money(entities, "fee")
    salaries = [e for e in _money(entities, "salary") if e.attr("period") in ("month", None)]
    if not fees or not salaries:
        return
    try:
        salary = max(vnd(e.attr("max"), e.attr("currency"), caps) for e in salaries)
        fee_e = max(fees, key=lambda e: vnd(e.attr("min"), e.attr("currency"), caps))
        fee = vnd(fee_e.attr("min"), fee_e.attr("currency"), caps)
    except KeyError:
        return
    if salary < 1_000_000 or fee < 1_000_000:
        return  # not a monthly salary or not a placement fee
    durations = [e for e in entities if e.kind == "duration"]
    contract = [e for e in durations if e.attr("contract")] or durations
    months = contract[0].value if contract else None
    folded = fold(raw)
    cap_months, how, ref = fee_cap(caps, market, folded, months)
    if len({e.attr("max") for e in salaries}) > 1:
        # several jobs and salaries in one ad: take the most lenient cap
        default_months, default_how, default_ref = fee_cap(caps, None, "", months)
        if default_months > cap_months:
            cap_months, how, ref = default_months, default_how, default_ref
    cap = cap_months * salary
    # A lump sum may lawfully include other costs (training, health check, visa); only a fee the
    # ad calls the service fee is compared with the cap alone.
    allowance = 0.0 if fee_e.attr("role") == "service_fee" else float(caps["service_fee"].get("other_costs_allowance_vnd", 0))
    if fee > cap + allowance:
        why = (
            f"detector fee_over_cap: phí {format_vnd(fee)} > trần {_fmt_months(cap_months)} × {format_vnd(salary)}"
            f" = {format_vnd(cap)} ({how}; {ref}"
            + (f"; cộng {format_vnd(allowance)} chi phí hợp lệ khác vì đây là khoản trọn gói" if allowance else "")
            + ")"
        )
        spans = [fee_e.span, max(salaries, key=lambda e: e.attr("max")).span]
        if contract:
            spans.append(contract[0].span)
        yield ind_id, "high", spans, [why]


def _lump_sum(ind_id: str, caps: dict, entities: list[Entity]):
    """A large sum asked for work abroad with no salary to compare it with: the weaker form."""
    if _money(entities, "salary"):
        return
    floor = float(caps["service_fee"].get("lump_sum_floor_vnd", 40_000_000))
    for e in _money(entities, "fee"):
        try:
            amount = vnd(e.attr("min"), e.attr("currency"), caps)
        except KeyError:
            continue
        if amount >= floor:
            yield ind_id, "medium", [e.span], [
                f"detector lump_sum_fee: {format_vnd(amount)} asked for work abroad with no salary or breakdown (≥ {format_vnd(floor)})"
            ]
            return


def _deposit(ind_id: str, caps: dict, entities: list[Entity], market: str | None):
    dep = caps.get("deposit", {})
    limits = dep.get("max_vnd", {})
    if market not in limits:
        return
    limit = float(limits[market])
    for e in _money(entities, "deposit"):
        try:
            amount = vnd(e.attr("min"), e.attr("currency"), caps)
        except KeyError:
            continue
        if amount > limit:
            why = (
                f"detector deposit_over_cap: ký quỹ/đặt cọc {format_vnd(amount)} > mức tối đa {format_vnd(limit)}"
                f" cho thị trường {market} ({dep.get('ref', 'NĐ112 Annex II')})"
            )
            yield ind_id, "high", [e.span], [why]
