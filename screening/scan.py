"""Batch scans: read postings (JSON lines or CSV, optionally gzip), screen each, write one JSON
object per input line in input order. A line that cannot be read or has no text gets an
``error`` object in its place and the scan goes on."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

__all__ = ["read_records", "screen_record", "scan", "ScanSummary"]

MAX_TEXT_CHARS = 2_000_000


@dataclass
class ScanSummary:
    lines: int = 0
    screened: int = 0
    flagged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    by_band: dict[str, int] = field(default_factory=dict)
    by_indicator: dict[str, int] = field(default_factory=dict)

    def add(self, line: int, result: dict[str, Any]) -> None:
        self.lines += 1
        if "error" in result:
            self.errors.append((line, result["error"]))
            return
        self.screened += 1
        self.flagged += bool(result.get("flagged"))
        band = result.get("risk_band", "low")
        self.by_band[band] = self.by_band.get(band, 0) + 1
        for ind in result.get("indicators", []):
            self.by_indicator[ind["id"]] = self.by_indicator.get(ind["id"], 0) + 1


def _open_text(path: str | Path) -> io.TextIOBase:
    p = str(path)
    if p == "-":
        import sys

        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    raw = open(p, "rb")
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace", newline="")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def _is_csv(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, record, error) for each input record; a record that cannot be read
    is (line, None, message). Streams: one record in memory at a time."""
    fh = _open_text(path)
    with fh:
        if _is_csv(path):
            reader = csv.DictReader(fh)
            for i, row in enumerate(reader, start=2):
                yield i, dict(row), None
            return
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                yield i, None, "empty line"
                continue
            try:
                rec = json.loads(line)
            except ValueError as exc:
                yield i, None, f"not valid JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(rec, dict):
                yield i, None, "not a JSON object"
                continue
            yield i, rec, None


def screen_record(screener: Any, line: int, rec: dict[str, Any] | None, error: str | None) -> dict[str, Any]:
    ident = None if rec is None else rec.get("id", rec.get("external_id"))
    if error is not None:
        return {"line": line, "error": error}
    assert rec is not None
    text = rec.get("text")
    if text is None and rec.get("title"):
        text = ""  # a title-only listing is screened on its title
    if not isinstance(text, str):
        return {"id": ident, "line": line, "error": "no `text` field (a string)"}
    if not text.strip() and not rec.get("title"):
        return {"id": ident, "line": line, "error": "empty `text`"}
    if len(text) > MAX_TEXT_CHARS:
        return {"id": ident, "line": line, "error": f"text longer than {MAX_TEXT_CHARS} characters"}
    opt = {k: rec.get(k) if isinstance(rec.get(k), str) else None for k in ("title", "company", "url")}
    a = screener.screen(text, **opt)
    out = {"id": ident if ident is not None else line, "line": line}
    if rec.get("source") is not None:
        out["source"] = rec.get("source")
    out.update(screener.to_dict(a))
    return out


# -- workers -------------------------------------------------------------------------------

_WORKER: Any = None


def _init_worker(rules_dir: str | None, model: Any) -> None:
    global _WORKER
    from .screener import Screener

    _WORKER = Screener.load(rules_dir, model=model)


def _work(item: tuple[int, dict[str, Any] | None, str | None]) -> dict[str, Any]:
    return screen_record(_WORKER, *item)


def scan(
    records: Iterable[tuple[int, dict[str, Any] | None, str | None]],
    *,
    workers: int = 1,
    rules_dir: str | None = None,
    model: Any = None,
    screener: Any = None,
) -> Iterator[dict[str, Any]]:
    """Screen records in input order, on ``workers`` processes (each loads the model once)."""
    if workers <= 1:
        if screener is None:
            from .screener import Screener

            screener = Screener.load(rules_dir, model=model)
        for item in records:
            yield screen_record(screener, *item)
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(rules_dir, model)) as pool:
        yield from pool.imap(_work, records, chunksize=64)
