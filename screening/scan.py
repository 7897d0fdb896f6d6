"""Batch scans: read postings (JSON lines or CSV, optionally gzip), screen each, write one JSON
object per input line in input order. A line that cannot be read or has no text gets an
``error`` object in its place and the scan goes on.

The scan streams: records are read, screened and written a block at a time, so memory stays
flat however long the input. With ``workers > 1`` blocks go to a pool of processes, each holding
one screener (inherited from the parent on fork, loaded once otherwise), and come back in order.

Reposts are grouped (see :class:`Deduper`): every result carries ``group`` (the id of the first
posting of its group); a later member also carries ``duplicate_of`` and ``duplicate``
(``exact`` or ``near``). A verbatim copy of an earlier posting (title, company, text and URL
all the same, as when a board is crawled twice) is not screened again: its result is the
first's assessment, marked ``"reused": true``. A repost under another URL is grouped but
screened, since its URL is part of what is screened.

:func:`run_scan` adds what a long job needs: a checkpoint beside the output (``OUT.progress``)
so that ``resume=True`` continues a stopped scan where it stopped, a progress bar on a terminal,
a summary, and pushing results to the service (:class:`Pusher`)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import sys
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

__all__ = [
    "read_records", "Source", "prepare", "screen_record", "scan", "Scanner", "Deduper",
    "ScanSummary", "Pusher", "PushError", "run_scan", "ScanStopped", "fingerprint",
]

MAX_TEXT_CHARS = 2_000_000
DEFAULT_WINDOW = 50_000          # postings remembered for duplicate grouping (exact and near)
DEFAULT_REUSE_BYTES = 64 << 20   # assessments kept for reuse by exact reposts
BLOCK_JOBS = 48                  # postings screened per task sent to a worker
BLOCK_ITEMS = 1024               # input records per block at most (reposts cost no work)
CHECKPOINT_ITEMS = 2000
CHECKPOINT_SECONDS = 5.0

try:  # pragma: no cover - orjson only when it is installed already
    import orjson as _orjson

    def _dumps(obj: Any) -> str:
        return _orjson.dumps(obj).decode("utf-8")

    _loads = _orjson.loads
except ImportError:  # pragma: no cover
    def _dumps(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False)

    _loads = json.loads


# -- reading ---------------------------------------------------------------------------------


def _is_csv(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


class Source:
    """The records of a file (or '-' for standard input), one at a time: ``(line, record,
    error)``. ``position()`` is how many bytes of the file (compressed, for gzip) have been
    read, against ``size``, for a progress bar."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.size: int | None = None
        self._raw: Any = None
        if self.path != "-":
            try:
                self.size = os.path.getsize(self.path)
            except OSError:
                self.size = None

    def position(self) -> int:
        try:
            return self._raw.tell() if self._raw is not None else 0
        except (OSError, ValueError):
            return 0

    def _open_binary(self) -> io.BufferedIOBase:
        if self.path == "-":
            raw: Any = sys.stdin.buffer
        else:
            raw = open(self.path, "rb")
            self._raw = raw
        head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if head == b"\x1f\x8b":
            return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]  (buffered inside)
        return raw

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
        fh = self._open_binary()
        i = 0
        try:
            if _is_csv(self.path):
                csv.field_size_limit(max(csv.field_size_limit(), 8 * MAX_TEXT_CHARS))
                reader = csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline=""))
                i = 1
                while True:
                    try:
                        row = next(reader)
                    except StopIteration:
                        return
                    except csv.Error as exc:
                        i += 1
                        yield i, None, f"not valid CSV: {exc}"
                        continue
                    i += 1
                    yield i, dict(row), None
            for i, raw_line in enumerate(fh, start=1):
                line = raw_line.decode("utf-8", "replace")
                if i == 1 and line.startswith("\ufeff"):
                    line = line[1:]
                if not line.strip():
                    yield i, None, "empty line"
                    continue
                try:
                    rec = _loads(line)
                except ValueError as exc:
                    msg, col = getattr(exc, "msg", str(exc)), getattr(exc, "colno", None)
                    yield i, None, f"not valid JSON: {msg}" + (f" at column {col}" if col else "")
                    continue
                if not isinstance(rec, dict):
                    yield i, None, "not a JSON object"
                    continue
                yield i, rec, None
        except (EOFError, OSError, zlib.error) as exc:  # a truncated or corrupt gzip: say so, stop
            yield i + 1, None, f"cannot read the rest of the file: {type(exc).__name__}: {exc}"
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
            if self._raw is not None:
                self._raw.close()


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, record, error) for each input record; a record that cannot be read
    is (line, None, message). Streams: one record in memory at a time."""
    return iter(Source(path))


# -- one record ------------------------------------------------------------------------------


@dataclass(slots=True)
class Posting:
    """What is screened of one input record, and what is pushed to the service."""

    line: int
    ident: Any
    source: Any
    text: str
    title: str | None
    company: str | None
    url: str | None
    posted_at: str | None = None
    has_id: bool = True


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


def _listing_text(rec: dict[str, Any], text: str | None, title: str | None) -> str | None:
    """A title-only listing (no text, or a text that is just the title, as job boards' lists
    give it) is screened on its title, company, salary and place: those become its text."""
    if text is not None and text.strip() and not (title and text.strip() == title.strip()):
        return text
    extra = []
    salary = _str(rec.get("salary"))
    if salary:
        extra.append(f"Mức lương: {salary.strip()}")
    place = rec.get("location", rec.get("locations"))
    if isinstance(place, list):
        place = ", ".join(x.strip() for x in place if isinstance(x, str) and x.strip()) or None
    if _str(place):
        extra.append(f"Nơi làm việc: {place.strip()}")
    if extra:
        return "\n".join(extra)
    return "" if text is None or (title and text.strip() == title.strip()) else text


def prepare(line: int, rec: dict[str, Any] | None, error: str | None) -> tuple[dict[str, Any] | None, Posting | None]:
    """Check one input record: ``(error result, None)`` or ``(None, posting)``."""
    if error is not None or rec is None:
        return {"line": line, "error": error or "not a JSON object"}, None
    raw_id = rec.get("id", rec.get("external_id"))
    ident = raw_id
    text = rec.get("text")
    title = _str(rec.get("title"))
    if text is None and title:
        text = ""  # a title-only listing is screened on its title
    if not isinstance(text, str):
        return {"id": ident, "line": line, "error": "no `text` field (a string)"}, None
    if not text.strip() and not title:
        return {"id": ident, "line": line, "error": "empty `text`"}, None
    if len(text) > MAX_TEXT_CHARS:
        return {"id": ident, "line": line, "error": f"text longer than {MAX_TEXT_CHARS} characters"}, None
    if title:
        text = _listing_text(rec, text, title) or ""
    posted = rec.get("posted_at")
    return None, Posting(
        line=line,
        ident=ident if ident is not None else line,
        source=rec.get("source"),
        text=text,
        title=title,
        company=_str(rec.get("company")),
        url=_str(rec.get("url")),
        posted_at=posted if isinstance(posted, str) else None,
        has_id=raw_id is not None and str(raw_id) != "",
    )


def _assess(screener: Any, text: str, title: str | None, company: str | None, url: str | None) -> dict[str, Any]:
    return screener.to_dict(screener.screen(text, title=title, company=company, url=url))


def _screen_body(screener: Any, text: str, title: str | None, company: str | None, url: str | None) -> tuple[str, bool, str, tuple[str, ...]]:
    """The assessment as the inside of a JSON object (no braces), and what the summary needs."""
    d = _assess(screener, text, title, company, url)
    return _dumps(d)[1:-1], bool(d["flagged"]), d["risk_band"], tuple(i["id"] for i in d["indicators"])


def screen_record(screener: Any, line: int, rec: dict[str, Any] | None, error: str | None) -> dict[str, Any]:
    """Screen one input record with a screener in this process (no grouping): the result dict."""
    err, p = prepare(line, rec, error)
    if err is not None:
        return err
    assert p is not None
    a = screener.screen(p.text, title=p.title, company=p.company, url=p.url)
    out: dict[str, Any] = {"id": p.ident, "line": line}
    if p.source is not None:
        out["source"] = p.source
    out.update(screener.to_dict(a))
    return out


# -- duplicates ------------------------------------------------------------------------------

# One implementation of grouping (screening.links), here with a window so memory stays bounded.
from .links import BANDS, NEAR_THRESHOLD, NUM_PERM, ROWS, fingerprint  # noqa: E402,F401 - re-exported
from .links import NearDuplicates as _NearDuplicates  # noqa: E402


class Deduper(_NearDuplicates):
    """Groups reposts within a window of the last ``window`` distinct postings (a FIFO, so
    memory is bounded, about 1.3 kB a remembered posting): :class:`screening.links.NearDuplicates`
    with a window. A posting's group is a pure function of the postings before it, so replaying
    a prefix rebuilds the same state."""

    def __init__(self, window: int = DEFAULT_WINDOW):
        super().__init__(max(1, window))


def _raw_key(p: Posting) -> bytes:
    """The key of a verbatim copy (title, company, text and URL all the same): such a copy gets
    the first's assessment, which is exactly what screening it would give."""
    data = "\x1f".join((p.title or "", p.company or "", p.text, p.url or "")).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest()


# -- workers ---------------------------------------------------------------------------------

_WORKER: Any = None
_WORKER_ARGS: tuple[Any, Any] = (None, None)


def _init_worker(rules_dir: str | None, model: Any) -> None:
    global _WORKER
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the scan and the pool
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _WORKER is None:  # inherited on fork; loaded once otherwise
        from .screener import Screener

        _WORKER = Screener.load(rules_dir, model=model)


Job = tuple  # (text, title, company, url, screen: bool, fingerprint: bool)
Done = tuple  # (key, sig, body, flagged, band, indicators, error)


def _work(jobs: list[Job], screener: Any = None) -> list[Done]:
    s = screener if screener is not None else _WORKER
    out: list[Done] = []
    for text, title, company, url, do_screen, do_fp in jobs:
        key, sig = fingerprint(text, title, company) if do_fp else (None, None)
        body = band = error = None
        flagged, inds = False, ()
        if do_screen:
            try:
                body, flagged, band, inds = _screen_body(s, text, title, company, url)
            except Exception as exc:  # one bad posting must not stop a million-line scan
                error = f"screening failed: {type(exc).__name__}: {exc}"[:500]
        out.append((key, sig, body, flagged, band, inds, error))
    return out


# -- the pipeline ----------------------------------------------------------------------------


@dataclass(slots=True)
class Emitted:
    """One input record's outcome, in input order."""

    index: int                  # 1-based count of input records
    line: int
    json: str | None            # the output line (no newline); None during a replay
    error: str | None = None
    flagged: bool = False
    band: str | None = None
    indicators: tuple[str, ...] = ()
    duplicate: str | None = None
    reused: bool = False
    posting: Posting | None = None


@dataclass(slots=True)
class _Entry:  # what an exact repost reuses
    key: int
    sig: bytes | None
    body: str | None
    flagged: bool
    band: str | None
    indicators: tuple[str, ...]
    error: str | None


class Scanner:
    """Screens a stream of ``(line, record, error)`` in input order on ``workers`` processes,
    grouping reposts (``dedupe``) and screening an exact repost only once."""

    def __init__(
        self,
        screener: Any = None,
        *,
        workers: int = 1,
        rules_dir: str | None = None,
        model: Any = None,
        dedupe: bool = True,
        window: int = DEFAULT_WINDOW,
        reuse_bytes: int = DEFAULT_REUSE_BYTES,
    ):
        self.workers = max(1, workers)
        self.rules_dir, self.model = rules_dir, model
        self.screener = screener
        self.dedupe = dedupe
        self.deduper = Deduper(window) if dedupe else None
        self.reuse: OrderedDict[bytes, _Entry] = OrderedDict()
        self.reuse_bytes, self._reuse_size = reuse_bytes, 0
        self.pending: dict[bytes, list[Any]] = {}  # first occurrence in flight: [waiters, entry]
        self._pool: Any = None
        self._started = False

    # the pool ---------------------------------------------------------------------------
    def start(self) -> None:
        """Load the screener or start the pool (before any other thread, as the pool forks)."""
        if self._started:
            return
        self._started = True
        if self.workers <= 1:
            if self.screener is None:
                from .screener import Screener

                self.screener = Screener.load(self.rules_dir, model=self.model)
            return
        import multiprocessing as mp

        global _WORKER
        fork = os.name == "posix" and "fork" in mp.get_all_start_methods()
        ctx = mp.get_context("fork" if fork else "spawn")
        if fork and self.screener is not None:
            _WORKER = self.screener  # the children inherit it: loaded once, in the parent
        try:
            self._pool = ctx.Pool(self.workers, initializer=_init_worker, initargs=(self.rules_dir, self.model))
        finally:
            if fork:
                _WORKER = None

    def close(self, terminate: bool = False) -> None:
        if self._pool is not None:
            if terminate:
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None

    # reuse cache ------------------------------------------------------------------------
    def _remember(self, rk: bytes, e: _Entry) -> None:
        size = len(e.body or "") + 400
        if size > self.reuse_bytes // 4:
            return
        self.reuse[rk] = e
        self._reuse_size += size
        while self._reuse_size > self.reuse_bytes and self.reuse:
            _, old = self.reuse.popitem(last=False)
            self._reuse_size -= len(old.body or "") + 400

    # one block: plan in the parent, work in a worker, emit in the parent -----------------
    def _plan(self, items: list[tuple[int, int, Any, Any, bool]]) -> tuple[list[Any], list[Job]]:
        plan: list[Any] = []
        jobs: list[Job] = []
        for index, line, rec, err, replay in items:
            error, p = prepare(line, rec, err)
            if p is None:
                plan.append(("E", index, line, error, replay))
                continue
            if not self.dedupe:
                if replay:  # nothing to rebuild: skip it
                    plan.append(("E", index, line, error, replay))
                    continue
                plan.append(("S", index, p, len(jobs), None, replay))
                jobs.append((p.text, p.title, p.company, p.url, not replay, False))
                continue
            rk = _raw_key(p)
            e = self.reuse.get(rk)
            if e is not None and (replay or e.body is not None or e.error is not None):
                self.reuse.move_to_end(rk)
                plan.append(("R", index, p, e, rk, replay))
            elif rk in self.pending:
                self.pending[rk][0] += 1
                plan.append(("P", index, p, None, rk, replay))
            else:
                self.pending[rk] = [0, None]
                plan.append(("S", index, p, len(jobs), rk, replay))
                jobs.append((p.text, p.title, p.company, p.url, not replay, True))
        return plan, jobs

    def _emit(self, plan: list[Any], done: list[Done]) -> Iterator[Emitted]:
        for step in plan:
            kind = step[0]
            if kind == "E":
                _, index, line, error, replay = step
                if replay:
                    yield Emitted(index, line, None)
                else:
                    yield Emitted(index, line, _dumps(error), error=error["error"])
                continue
            _, index, p, ref, rk, replay = step
            reused = False
            if kind == "S":
                key, sig, body, flagged, band, inds, error = done[ref]
                e = _Entry(key, sig, body, flagged, band, inds, error)
                if rk is not None:
                    w = self.pending.get(rk)
                    if w is not None:
                        if w[0] == 0:
                            del self.pending[rk]
                        else:
                            w[1] = e
                    self._remember(rk, e)
            else:
                if kind == "R":
                    e = ref
                else:
                    w = self.pending[rk]
                    e = w[1]
                    w[0] -= 1
                    if w[0] == 0:
                        del self.pending[rk]
                reused = not replay and e.body is not None
            group = dup = None
            if self.deduper is not None:
                group, dup = self.deduper.assign(p.ident, e.key, e.sig)
            if replay:
                yield Emitted(index, p.line, None)
                continue
            if e.body is None:
                err = e.error or "screening failed"
                yield Emitted(index, p.line, _dumps({"id": p.ident, "line": p.line, "error": err}), error=err, posting=None)
                continue
            head: dict[str, Any] = {"id": p.ident, "line": p.line}
            if p.source is not None:
                head["source"] = p.source
            if group is not None:
                head["group"] = group
                if dup is not None:
                    head["duplicate_of"] = group
                    head["duplicate"] = dup
            if reused:
                head["reused"] = True
            text = _dumps(head)[:-1] + ", " + e.body + "}"
            yield Emitted(index, p.line, text, None, e.flagged, e.band, e.indicators, dup, reused, p)

    def run(self, records: Iterable[tuple[int, dict[str, Any] | None, str | None]], *, replay: int = 0) -> Iterator[Emitted]:
        """Emit every record's outcome in input order. The first ``replay`` records only rebuild
        the duplicate index (a resumed scan): they are fingerprinted, not screened, and come
        out with ``json=None``."""
        from collections import deque

        self.start()
        inflight: deque[tuple[list[Any], Any]] = deque()
        depth = 2 * self.workers + 1
        it = iter(records)
        index = 0
        try:
            while True:
                items: list[tuple[int, int, Any, Any, bool]] = []
                njobs = 0
                for line, rec, err in it:
                    index += 1
                    items.append((index, line, rec, err, index <= replay))
                    njobs += rec is not None
                    if njobs >= BLOCK_JOBS or len(items) >= BLOCK_ITEMS:
                        break
                if not items:
                    break
                plan, jobs = self._plan(items)
                if self._pool is None:
                    yield from self._emit(plan, _work(jobs, self.screener) if jobs else [])
                    continue
                inflight.append((plan, self._pool.apply_async(_work, (jobs,)) if jobs else None))
                while inflight and (len(inflight) >= depth or inflight[0][1] is None or inflight[0][1].ready()):
                    plan0, res = inflight.popleft()
                    yield from self._emit(plan0, res.get() if res is not None else [])
            while inflight:
                plan0, res = inflight.popleft()
                yield from self._emit(plan0, res.get() if res is not None else [])
        except BaseException:
            self.close(terminate=True)
            raise
        self.close()


def scan(
    records: Iterable[tuple[int, dict[str, Any] | None, str | None]],
    *,
    workers: int = 1,
    rules_dir: str | None = None,
    model: Any = None,
    screener: Any = None,
    dedupe: bool = True,
) -> Iterator[dict[str, Any]]:
    """Screen records in input order, on ``workers`` processes (each loads the model once):
    one result dict per record."""
    sc = Scanner(screener, workers=workers, rules_dir=rules_dir, model=model, dedupe=dedupe)
    for em in sc.run(records):
        yield json.loads(em.json) if em.json is not None else {"line": em.line, "error": em.error}


# -- summary ---------------------------------------------------------------------------------

MAX_REPORTED_ERRORS = 1000


@dataclass
class ScanSummary:
    lines: int = 0
    screened: int = 0
    flagged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    error_count: int = 0
    by_band: dict[str, int] = field(default_factory=dict)
    by_indicator: dict[str, int] = field(default_factory=dict)
    written: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    reused: int = 0
    pushed: int = 0
    push_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, line: int, result: dict[str, Any]) -> None:
        """Count one result dict (the library's ``scan()`` output)."""
        if "error" in result:
            self._error(line, result["error"])
            self.lines += 1
            return
        self._ok(bool(result.get("flagged")), result.get("risk_band", "low"), tuple(i["id"] for i in result.get("indicators", [])))
        self.lines += 1

    def _error(self, line: int, msg: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, msg))

    def _ok(self, flagged: bool, band: str | None, inds: tuple[str, ...]) -> None:
        self.screened += 1
        self.flagged += flagged
        b = band or "low"
        self.by_band[b] = self.by_band.get(b, 0) + 1
        for i in inds:
            self.by_indicator[i] = self.by_indicator.get(i, 0) + 1

    def add_emitted(self, em: Emitted) -> None:
        self.lines += 1
        if em.error is not None:
            self._error(em.line, em.error)
            return
        self._ok(em.flagged, em.band, em.indicators)
        if em.duplicate == "exact":
            self.exact_duplicates += 1
        elif em.duplicate == "near":
            self.near_duplicates += 1
        self.reused += em.reused

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["errors"] = [list(x) for x in self.errors]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScanSummary":
        s = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        s.errors = [(int(a), str(b)) for a, b in s.errors]
        s.error_count = max(s.error_count, len(s.errors))
        return s

    def lines_of_text(self) -> list[str]:
        rate = f" in {self.seconds:.1f} s ({self.lines / self.seconds:.0f} postings/s)" if self.seconds > 0 else ""
        out = [
            f"scanned {self.lines} lines{rate}: {self.screened} screened, {self.flagged} flagged, "
            f"{self.error_count} errors; bands {json.dumps(self.by_band)}; indicators {json.dumps(self.by_indicator, ensure_ascii=False)}",
            f"duplicates: {self.exact_duplicates} exact, {self.near_duplicates} near; {self.reused} reposts reused the first's assessment",
        ]
        if self.pushed or self.push_errors:
            out.append(f"pushed {self.pushed} postings; {len(self.push_errors)} batches rejected")
        for line, err in self.errors[:20]:
            out.append(f"  line {line}: {err}")
        if self.error_count > 20:
            out.append(f"  … {self.error_count - 20} more errors")
        for e in self.push_errors[:20]:
            out.append(f"  push: {e}")
        return out


# -- pushing to the service ------------------------------------------------------------------


class PushError(RuntimeError):
    pass


def _parse_time(s: str | None) -> str | None:
    if not s:
        return None
    from datetime import datetime

    try:
        datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return s


def posting_payload(p: Posting, default_source: str) -> dict[str, Any]:
    """The body item of ``POST /v1/postings`` for a posting: idempotent on (source,
    external_id); a record without an id gets one from a hash of its content."""
    ext = str(p.ident) if p.has_id else "sha256:" + hashlib.sha256("\x1f".join((p.title or "", p.company or "", p.text, p.url or "")).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return {
        "external_id": ext[:300],
        "source": str(p.source or default_source)[:100],
        "text": p.text,
        "title": p.title,
        "company": p.company,
        "url": p.url,
        "posted_at": _parse_time(p.posted_at),
    }


class Pusher:
    """Sends postings to ``{url}/v1/postings`` in batches from a background thread, in order.
    5xx, 429, timeouts and connection errors are retried with exponential backoff (the service
    is idempotent on (source, external_id), so a batch sent twice stores nothing twice); after
    ``tries`` failures the push fails (:attr:`failure`) and the scan stops, to be resumed. A 4xx
    rejects the batch: its lines are reported and the scan goes on. Postings the service
    rejects one by one (422 with their index) are reported and the rest sent again.

    ``cut(mark)`` closes the current batch; ``mark`` comes back in :attr:`done_mark` once
    everything before it was handled, so a checkpoint never runs ahead of the service."""

    def __init__(self, url: str, key: str | None, *, source: str = "scan", batch: int = 500, tries: int = 8,
                 backoff: float = 0.5, timeout: float = 300.0, client: Any = None):
        import queue

        import httpx

        self.endpoint = url.rstrip("/") + "/v1/postings"
        self.source = source
        self.batch_size = max(1, batch)
        self.tries, self.backoff = max(1, tries), backoff
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = client or httpx.Client(timeout=timeout, headers=headers)
        self.q: queue.Queue[Any] = queue.Queue(maxsize=4)
        self.current: list[tuple[int, dict[str, Any]]] = []
        self.done_mark: Any = None
        self.failure: str | None = None
        self.pushed = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="scan-push", daemon=True)
        self.thread.start()

    def add(self, p: Posting) -> None:
        self.current.append((p.line, posting_payload(p, self.source)))
        if len(self.current) >= self.batch_size:
            self.cut(None)

    def cut(self, mark: Any) -> None:
        batch, self.current = self.current, []
        if not batch and mark is None:
            return
        while True:
            if self.failure is not None:
                raise PushError(self.failure)
            try:
                self.q.put((batch, mark), timeout=0.5)
                return
            except Exception:  # queue.Full: the service is slower than the scan; wait
                continue

    def close(self) -> None:
        self.cut(None)
        self.q.put(None)
        self.thread.join()
        if self.failure is not None:
            raise PushError(self.failure)

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.failure is not None:
                continue
            batch, mark = item
            try:
                if batch:
                    self._send(batch)
            except PushError as exc:
                self.failure = str(exc)
                continue
            if mark is not None:
                with self.lock:  # everything before the mark is handled: what a checkpoint may say
                    self.done_mark = (mark, self.pushed, list(self.errors))

    def _send(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        import httpx

        lines = [ln for ln, _ in batch]
        attempt = 0
        while True:
            attempt += 1
            try:
                r = self.client.post(self.endpoint, json={"postings": [b for _, b in batch]})
            except httpx.HTTPError as exc:
                why = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code < 300:
                    self.pushed += len(batch)
                    return
                if r.status_code == 422 and len(batch) > 1:
                    bad = _rejected_indices(r, len(batch))
                    if bad and len(bad) < len(batch):
                        for i in sorted(bad):
                            self.errors.append(f"line {lines[i]}: rejected by the service (HTTP 422): {_detail(r, i)}")
                        self._send([x for i, x in enumerate(batch) if i not in bad])
                        return
                if r.status_code in (401, 403):  # every later batch would fail the same way
                    raise PushError(f"push to {self.endpoint} refused (HTTP {r.status_code}: {r.text[:200]}): check --key")
                if r.status_code == 413 and len(batch) > 1:
                    half = len(batch) // 2
                    self._send(batch[:half])
                    self._send(batch[half:])
                    return
                if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
                    self.errors.append(f"lines {_ranges(lines)}: batch rejected (HTTP {r.status_code}): {r.text[:300]}")
                    return
                why = f"HTTP {r.status_code}"
            if attempt >= self.tries:
                raise PushError(f"push to {self.endpoint} failed {attempt} times (last: {why}) for lines {_ranges(lines)}")
            time.sleep(min(30.0, self.backoff * (2 ** (attempt - 1))))


def _rejected_indices(r: Any, n: int) -> set[int]:
    try:
        detail = r.json().get("detail")
    except ValueError:
        return set()
    out = set()
    for d in detail if isinstance(detail, list) else []:
        loc = d.get("loc") if isinstance(d, dict) else None
        if isinstance(loc, list) and len(loc) >= 3 and loc[:2] == ["body", "postings"] and isinstance(loc[2], int) and 0 <= loc[2] < n:
            out.add(loc[2])
    return out


def _detail(r: Any, i: int) -> str:
    try:
        for d in r.json().get("detail", []):
            if d.get("loc", [])[2:3] == [i]:
                return f"{'.'.join(map(str, d['loc'][3:]))}: {d.get('msg')}"
    except (ValueError, AttributeError, TypeError, KeyError):
        pass
    return "invalid"


def _ranges(lines: list[int]) -> str:
    if not lines:
        return "-"
    return f"{lines[0]}-{lines[-1]}" if len(lines) > 1 else str(lines[0])


# -- a scan job: output, checkpoint, resume, progress ----------------------------------------


class ScanStopped(Exception):
    """The scan stopped before the end (interrupted, or the push failed); it can be resumed."""


def progress_path(out: str | Path) -> Path:
    return Path(str(out) + ".progress")


def _write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


class _Progress:
    """A progress bar on stderr when it is a terminal: count, rate, ETA (by bytes read)."""

    def __init__(self, source: Source, enabled: bool | None, start: int = 0):
        self.source = source
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar: Any = None
        self.count = start
        self.t0 = time.monotonic()
        self.start = start
        self.last = 0.0
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("[bold]scan[/]"),
            BarColumn(),
            TextColumn("{task.fields[count]:,} postings"),
            TextColumn("{task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self.bar.start()
        self.task = self.bar.add_task("scan", total=source.size, count=start, rate=0.0)

    def update(self, count: int, force: bool = False) -> None:
        self.count = count
        if self.bar is None:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        rate = (count - self.start) / max(1e-6, now - self.t0)
        self.bar.update(self.task, completed=self.source.position(), count=count, rate=rate)

    def close(self, count: int | None = None) -> None:
        if self.bar is not None:
            self.update(self.count if count is None else count, force=True)
            self.bar.stop()


def run_scan(
    infile: str,
    out: str = "-",
    *,
    workers: int = 1,
    only_flagged: bool = False,
    resume: bool = False,
    dedupe: bool = True,
    window: int = DEFAULT_WINDOW,
    rules_dir: str | None = None,
    model: Any = None,
    screener: Any = None,
    push_to: str | None = None,
    push_key: str | None = None,
    push_source: str | None = None,
    push_batch: int = 500,
    push_backoff: float = 0.5,
    push_tries: int = 8,
    progress: bool | None = None,
    checkpoint_items: int = CHECKPOINT_ITEMS,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    on_line: Callable[[str], None] | None = None,
) -> ScanSummary:
    """Scan ``infile`` into ``out`` (JSON lines; '-' for standard output). A file output gets a
    checkpoint ``out + ".progress"``: the number of input records done and the size of ``out``
    at that point, fsync'd every ``checkpoint_items`` records or ``checkpoint_seconds``. With
    ``resume`` the output is cut back to that size and those records are skipped (replayed
    through the duplicate index only), so no line is lost or written twice, even after a kill -9.
    Raises :class:`ScanStopped` (after a last checkpoint) on Ctrl-C or when pushing fails."""
    if push_to:
        try:
            import httpx  # noqa: F401
        except ImportError:
            raise ValueError("--to needs httpx: pip install httpx==0.28.1") from None
    to_file = out != "-"
    ckpt = progress_path(out) if to_file else None
    regular = to_file and (not os.path.exists(out) or os.path.isfile(out))
    done, offset = 0, 0
    summary = ScanSummary()
    options = {"only_flagged": only_flagged, "dedupe": dedupe, "window": window}
    if resume:
        if not regular or ckpt is None:
            raise ValueError("--resume needs --out to be a file")
        if ckpt.exists():
            state = json.loads(ckpt.read_text(encoding="utf-8"))
            if state.get("input") != os.path.abspath(infile) and infile != "-":
                raise ValueError(f"{ckpt} belongs to a scan of {state.get('input')}, not {infile}")
            if state.get("options", options) != options:
                raise ValueError(f"{ckpt} was written with other options ({state.get('options')}); scan again without --resume")
            done, offset = int(state["done"]), int(state["offset"])
            summary = ScanSummary.from_dict(state.get("summary") or {})
            if state.get("complete"):
                summary.seconds = 0.0
                return summary
            if not os.path.exists(out) or os.path.getsize(out) < offset:
                raise ValueError(f"{out} is shorter than its checkpoint says ({offset} bytes): scan again without --resume")
    elif ckpt is not None and ckpt.exists():
        ckpt.unlink()  # a new scan: the old checkpoint no longer describes the output
    source = Source(infile)
    scanner = Scanner(screener, workers=workers, rules_dir=rules_dir, model=model, dedupe=dedupe, window=window)
    scanner.start()  # the pool forks before the push and progress threads exist
    if to_file:
        mode = "r+b" if resume and done else "wb"
        fh: Any = open(out, mode)
        if mode == "r+b":
            fh.truncate(offset)
            fh.seek(offset)
    else:
        fh = sys.stdout.buffer
    pusher = None
    if push_to:
        pusher = Pusher(push_to, push_key, source=push_source or "scan", batch=push_batch, backoff=push_backoff, tries=push_tries)
        pusher.pushed, pusher.errors = summary.pushed, list(summary.push_errors)
        pusher.done_mark = ((done, offset, summary.to_dict()), summary.pushed, list(summary.push_errors))
    bar = _Progress(source, progress, start=done)
    count, since, last_t = done, 0, time.monotonic()
    t0 = time.monotonic()
    base_seconds = summary.seconds
    stopped: BaseException | None = None
    finished = False

    def checkpoint(final: bool = False, stopping: bool = False) -> None:
        nonlocal since, last_t
        since, last_t = 0, time.monotonic()
        if to_file:
            fh.flush()
            if regular:
                os.fsync(fh.fileno())
        summary.seconds = base_seconds + time.monotonic() - t0
        mark: Any = (count, offset, summary.to_dict())
        if pusher is not None:
            if not stopping:
                pusher.cut(mark)
                if final:
                    pusher.close()
            summary.pushed, summary.push_errors = pusher.pushed, list(pusher.errors)
            acked = pusher.done_mark  # the checkpoint never runs ahead of the service
            if acked is None:
                return
            mark = acked[0]
            mark[2]["pushed"], mark[2]["push_errors"] = acked[1], acked[2]
        if ckpt is not None and regular:
            _write_checkpoint(ckpt, {
                "version": 1, "input": os.path.abspath(infile) if infile != "-" else "-", "done": mark[0], "offset": mark[1],
                "complete": final and mark[0] == count, "options": options, "summary": mark[2],
            })

    try:
        for em in scanner.run(source, replay=done):
            if em.index <= done:
                if em.index % 1000 == 0:
                    bar.update(em.index)
                continue
            count = em.index
            summary.add_emitted(em)
            if em.json is not None and not (only_flagged and (em.error is not None or not em.flagged)):
                data = (em.json + "\n").encode("utf-8", "surrogatepass")
                fh.write(data)
                offset += len(data)
                summary.written += 1
                if on_line is not None:
                    on_line(em.json)
                if pusher is not None and em.posting is not None:
                    pusher.add(em.posting)
            since += 1
            if since >= checkpoint_items or (since % 64 == 0 and time.monotonic() - last_t >= checkpoint_seconds):
                checkpoint()
            if count % 64 == 0:
                bar.update(count)
        checkpoint(final=True)
        finished = True
    except (KeyboardInterrupt, PushError) as exc:
        stopped = exc
    finally:
        bar.close(count)
        scanner.close(terminate=not finished)
        if stopped is not None:
            try:
                checkpoint(stopping=True)
            except OSError:
                pass
        if fh is not sys.stdout.buffer:
            fh.close()
        else:
            fh.flush()
    summary.seconds = base_seconds + time.monotonic() - t0
    if stopped is not None:
        why = "interrupted" if isinstance(stopped, KeyboardInterrupt) else str(stopped)
        raise ScanStopped(f"{why}; {count} records done" + ("; --resume continues" if ckpt is not None and regular else ""))
    return summary
