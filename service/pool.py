"""Screening a large ingest batch on several processes.

Screening is pure Python and CPU-bound, so threads do not help; a batch of postings is cut into
chunks screened by worker processes (spawned, each loading the screener once, from the same rules
and model as the app). Each stored posting keeps the versions of the screener that screened it.
Small batches are screened in the request's own thread.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Sequence

from .db.storage import NewPosting

__all__ = ["ScreeningPool", "pool_size"]

log = logging.getLogger("service")
_SCREENER: Any = None


def _init(rules_dir: str | None, model: Any) -> None:
    global _SCREENER
    from screening.screener import Screener

    _SCREENER = Screener.load(rules_dir, model=model)
    import gc

    gc.collect()
    gc.freeze()  # the screener lives as long as the process: keep it out of the collector's way
    gc.set_threshold(20_000, 20, 20)


def _versions() -> dict[str, str]:
    return dict(_SCREENER.versions)


def _screen_chunk(records: list[dict[str, Any]]) -> list[NewPosting]:
    from .ingest import screen_posting

    return [screen_posting(_SCREENER, **r) for r in records]


def pool_size(setting: int, workers: int) -> int:
    """-1 (auto): one process per CPU when there are several CPUs and one server process."""
    if setting >= 0:
        return setting
    cpus = os.cpu_count() or 1
    return cpus if cpus > 1 and workers == 1 else 0


class ScreeningPool:
    def __init__(self, processes: int, rules_dir: str | None, model: Any, min_batch: int = 64):
        self.processes = processes
        self.min_batch = min_batch
        self._ex = ProcessPoolExecutor(
            max_workers=processes, mp_context=mp.get_context("spawn"), initializer=_init, initargs=(rules_dir, model)
        )

    def begin(self) -> None:
        """Start every worker now (each loads the screener), not on the first batch."""
        self._warm = [self._ex.submit(_versions) for _ in range(self.processes)]

    def ready(self) -> dict[str, str]:
        """Wait for the workers begun by ``begin``; their screener's versions."""
        return [f.result() for f in self._warm][0]

    def screen(self, records: Sequence[dict[str, Any]]) -> list[NewPosting]:
        n = len(records)
        size = max(8, -(-n // (self.processes * 4)))  # about four chunks per process
        chunks = [list(records[i : i + size]) for i in range(0, n, size)]
        out: list[NewPosting] = []
        for part in self._ex.map(_screen_chunk, chunks):
            out.extend(part)
        return out

    def close(self) -> None:
        self._ex.shutdown(wait=False, cancel_futures=True)
