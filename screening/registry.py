"""The registry of enterprises licensed to send workers abroad, as DOLAB publishes it
(dolab.moha.gov.vn; formerly dolab.gov.vn), read from CSV or XLSX.

Reading is separate from storing: ``read_registry`` returns the firms and the rows it could not
read (with their line numbers); the service stores versions. Names, phones and websites are
normalised here so ads can be resolved against them (``screening.agency``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .extract import _valid_phone
from .text import fold

__all__ = ["Firm", "RowError", "read_registry", "normalise_name", "normalise_domain", "STATUSES", "REQUIRED_COLUMNS"]

STATUSES = ("active", "revoked", "suspended", "surrendered")
REQUIRED_COLUMNS = ("name", "enterprise_code", "licence_no", "status")
OPTIONAL_COLUMNS = ("address", "phone", "website")
_STATUS_WORDS = {
    "active": "active", "hoat dong": "active", "dang hoat dong": "active", "con hieu luc": "active",
    "revoked": "revoked", "thu hoi": "revoked", "bi thu hoi": "revoked", "da thu hoi": "revoked",
    "suspended": "suspended", "dinh chi": "suspended", "tam dinh chi": "suspended", "bi dinh chi": "suspended",
    "surrendered": "surrendered", "nop lai": "surrendered", "da nop lai": "surrendered", "tra lai": "surrendered",
}
# Words of a firm's legal form and trade that say nothing about which firm it is.
_FORM_WORDS = (
    "cong ty", "cty", "ctcp", "tnhh", "trach nhiem huu han", "co phan", "cp", "mot thanh vien", "mtv",
    "hai thanh vien", "tap doan", "tong cong ty", "chi nhanh", "company", "co", "ltd", "limited", "jsc",
    "corporation", "corp", "inc", "group", "joint stock",
)
_TRADE_WORDS = (
    "xuat khau lao dong", "xkld", "nhan luc", "cung ung nhan luc", "dich vu", "thuong mai", "dau tu",
    "phat trien", "quoc te", "hop tac", "lao dong", "viec lam", "manpower", "human resources",
    "international", "trading", "investment", "development", "services", "service", "hr", "va",
)


def _strip_words(text: str, words: tuple[str, ...]) -> str:
    for w in sorted(words, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(w)}\b", " ", text)
    return " ".join(text.split())


def normalise_name(name: str, *, keep_trade: bool = True) -> str:
    """'Công ty CP Nhân lực Quốc tế Sao Bắc Á' -> 'nhan luc quoc te sao bac a' (legal form
    dropped); with keep_trade=False also the trade words -> 'sao bac a' (the distinctive part)."""
    f = re.sub(r"\([^)]*\)", " ", fold(name))  # "(FICTITIOUS)", "(chi nhánh Hà Nội)"
    f = re.sub(r"[^\w\s]", " ", f)
    f = _strip_words(f, _FORM_WORDS)
    if not keep_trade:
        core = _strip_words(f, _TRADE_WORDS)
        f = core or f
    return f


def normalise_domain(url: str) -> str | None:
    u = fold(url.strip())
    u = re.sub(r"^[a-z]+://", "", u)
    u = u.split("/")[0].split("?")[0]
    if u.startswith("www."):
        u = u[4:]
    return u if re.fullmatch(r"[a-z0-9\-]+(\.[a-z0-9\-]+)+", u) else None


@dataclass(frozen=True)
class Firm:
    name: str
    enterprise_code: str
    licence_no: str
    status: str
    address: str = ""
    phones: tuple[str, ...] = ()
    websites: tuple[str, ...] = ()
    line: int = 0

    @property
    def key(self) -> str:
        """The firm's identity across registry versions: its enterprise code."""
        return self.enterprise_code

    @property
    def norm_name(self) -> str:
        return normalise_name(self.name)

    @property
    def core_name(self) -> str:
        return normalise_name(self.name, keep_trade=False)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class RegistryRead:
    firms: list[Firm] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [str(h or "").strip().lower() for h in next(rows, ())]
        for i, row in enumerate(rows, start=2):
            yield i, {header[j]: ("" if v is None else str(v)).strip() for j, v in enumerate(row) if j < len(header)}
        wb.close()
        return
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames:
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
    for i, row in enumerate(reader, start=2):
        yield i, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _split_multi(value: str) -> list[str]:
    return [x.strip() for x in re.split(r"[;,/|\n]+", value or "") if x.strip()]


def read_registry(path: str | Path) -> RegistryRead:
    """Read a licence list. A row that cannot be read is reported with its line number (the
    line of the CSV, or the sheet row of the XLSX) and the rest is read."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"registry file not found: {path}")
    out = RegistryRead()
    header_checked = False
    seen: dict[str, int] = {}
    for line, row in _rows(path):
        if not header_checked:
            missing = [c for c in REQUIRED_COLUMNS if c not in row]
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; need {', '.join(REQUIRED_COLUMNS)}")
            header_checked = True
        if not any(row.values()):
            continue
        problems = [f"empty `{c}`" for c in REQUIRED_COLUMNS if not row.get(c)]
        status = _STATUS_WORDS.get(fold(row.get("status", "")).strip())
        if row.get("status") and status is None:
            problems.append(f"unknown status {row['status']!r} (one of {', '.join(STATUSES)})")
        code = row.get("enterprise_code", "")
        if code and code in seen:
            problems.append(f"enterprise_code {code} already on line {seen[code]}")
        phones = []
        for p in _split_multi(row.get("phone", "")):
            e164 = _valid_phone(re.sub(r"[^\d+]", "", p))
            if e164 is None:
                problems.append(f"phone {p!r} is not a Vietnamese phone number")
            else:
                phones.append(e164)
        sites = []
        for w in _split_multi(row.get("website", "")):
            d = normalise_domain(w)
            if d is None:
                problems.append(f"website {w!r} is not a web address")
            else:
                sites.append(d)
        if problems:
            out.errors.append(RowError(line, "; ".join(problems)))
            continue
        seen[code] = line
        out.firms.append(Firm(
            name=" ".join(row["name"].split()), enterprise_code=code, licence_no=" ".join(row["licence_no"].split()).upper(),
            status=status or "active", address=row.get("address", ""), phones=tuple(phones), websites=tuple(sites), line=line,
        ))
    if not header_checked:
        raise ValueError(f"{path}: no rows")
    return out
