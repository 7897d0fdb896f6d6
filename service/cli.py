"""What ``python -m screening serve`` and ``python -m screening users …`` do (screening/cli.py
imports this lazily, so the library stays free of the service)."""

from __future__ import annotations

import json
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator

from .settings import Settings

__all__ = ["serve", "load_examples", "add_user", "list_users", "rotate_user", "disable_user", "import_registry", "agency_report", "EXAMPLES"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ads.jsonl"


def _settings(database_url: str | None = None, **kw: Any) -> Settings:
    s = Settings()
    upd = {k: v for k, v in kw.items() if v is not None}
    if database_url:
        upd["database_url"] = database_url
    return s.model_copy(update=upd) if upd else s


@contextmanager
def _db(settings: Settings) -> Iterator[Any]:
    """A session on the migrated database, closed (and its engine disposed) afterwards."""
    from .db.engine import make_engine, make_sessionmaker
    from .db.migrate import upgrade

    upgrade(settings)
    engine = make_engine(settings)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


def load_examples(settings: Settings, screener, path: Path = EXAMPLES) -> tuple[int, int]:
    """Ingest the project's example ads (source from the file, ``example`` by default): they are
    idempotent like any posting, so loading them twice changes nothing. (created, queued)."""
    from .ingest import ingest_postings

    recs = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            recs.append({
                "source": r.get("source") or "example", "external_id": str(r.get("id") or n), "text": r["text"],
                "title": r.get("title"), "company": r.get("company"), "url": r.get("url"), "posted_at": None,
            })
    with _db(settings) as session:
        res = ingest_postings(session, screener, recs)
    created = [r for r in res if r.created]
    return len(created), sum(1 for r in created if r.flag_id)


def limit_malloc_arenas(n: int = 2) -> bool:
    """Cap glibc's malloc arenas (one per thread by default, up to 8 per CPU): the request thread
    pool otherwise leaves each arena fragmented, and a server's memory creeps up for a long while
    under load (benchmarks/load_test.py: +100 MB over 60,000 requests without the cap). Set for
    this process (mallopt) and its children (MALLOC_ARENA_MAX); an explicit MALLOC_ARENA_MAX wins."""
    import ctypes
    import ctypes.util
    import os

    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(n)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-8, n))  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: nothing to cap
        return False


def serve(host: str | None = None, port: int | None = None, database_url: str | None = None, with_examples: bool = False,
          workers: int | None = None, echo=print) -> None:
    import os

    import uvicorn

    from .app import create_app, load_screener

    settings = _settings(database_url, host=host, port=port, workers=workers)
    limit_malloc_arenas()
    screener = load_screener(settings) if with_examples or settings.workers == 1 else None
    if with_examples:
        from .db.migrate import upgrade

        upgrade(settings)
        created, queued = load_examples(settings, screener)
        echo(f"examples: {created} new postings, {queued} queued ({EXAMPLES.name})")
        for name, role, key in demo_users(settings):
            echo(f"no users yet: created {name!r} (role {role}); log in at /login with the key {key}")
    elif not _has_users(settings):
        echo("no users yet: create one with `python -m screening users add NAME --role inspector` (the key is printed once)")
    echo(f"serving on http://{settings.host}:{settings.port}/ (API docs at /docs; {settings.workers} worker(s)); "
         f"database: {_redact(settings.database_url)}")
    if settings.workers == 1:
        uvicorn.run(create_app(settings, screener), host=settings.host, port=settings.port, log_level=settings.log_level)
        return
    # Several processes: each builds its app from the environment (the factory), so pass the
    # command-line choices on through it.
    os.environ["SCREENING_DATABASE_URL"] = settings.database_url
    os.environ["SCREENING_WORKERS"] = str(settings.workers)
    uvicorn.run("service.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level=settings.log_level)


def _has_users(settings: Settings) -> bool:
    from .db import storage

    with _db(settings) as session:
        return bool(storage.list_users(session))


def demo_users(settings: Settings) -> list[tuple[str, str, str]]:
    """For a first run with the examples (`make run`): when there is no user at all, an
    inspector and a job-centre user, so the pages can be tried at once. Never otherwise."""
    from .db import storage

    with _db(settings) as session:
        if storage.list_users(session):
            return []
        out = []
        for name, role in (("demo-inspector", "inspector"), ("demo-job-centre", "job_centre")):
            user, key = storage.create_user(session, name, role)
            out.append((user.name, role, key))
        return out


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def add_user(name: str, role: str, database_url: str | None = None):
    from .db import storage

    settings = _settings(database_url)
    with _db(settings) as session:
        return storage.create_user(session, name, role)


def list_users(database_url: str | None = None):
    from .db import storage

    with _db(_settings(database_url)) as session:
        return storage.list_users(session)


def rotate_user(name: str, database_url: str | None = None):
    from .db import storage

    with _db(_settings(database_url)) as session:
        return storage.rotate_key(session, name)


def disable_user(name: str, database_url: str | None = None):
    from .db import storage

    with _db(_settings(database_url)) as session:
        return storage.set_active(session, name, False)


def rescreen(database_url: str | None = None, everything: bool = False, dry_run: bool = False, model: str | None = None) -> dict[str, Any]:
    """``python -m screening rescreen``: screen stored postings again with the current rules and
    model (see ingest.rescreen); returns the counts and the versions used."""
    from .app import load_screener
    from .db import storage  # noqa: F401 - the models
    from .ingest import rescreen as run

    settings = _settings(database_url, **({"model": model} if model is not None else {}))
    screener = load_screener(settings)
    with _db(settings) as session:
        return {**run(session, screener, everything=everything, dry_run=dry_run), "versions": dict(screener.versions)}


def purge(before, database_url: str | None = None, dry_run: bool = False) -> dict[str, int]:
    """``python -m screening purge --older-than DAYS | --before DATE``: delete the postings
    stored before then that never entered the queue (see storage.purge_postings)."""
    from .db import storage

    with _db(_settings(database_url)) as session:
        return storage.purge_postings(session, before, dry_run=dry_run)


def import_registry(path: str | Path, database_url: str | None = None):
    """``python -m screening registry import FILE``: read the licence list (bad rows are
    reported, the rest is read), store it as a new version and re-resolve stored postings.
    Returns (RegistryImportResult, the read errors)."""
    from screening.registry import read_registry

    from .db import storage

    read = read_registry(path)  # FileNotFoundError / ValueError for the file as a whole
    with _db(_settings(database_url)) as session:
        return storage.import_registry(session, read.firms, read.errors, Path(path).name)


def agency_report(name: str, database_url: str | None = None) -> dict[str, Any] | None:
    """``python -m screening agency report NAME``: the profile of the agency best matching NAME."""
    from screening.catalogue import Catalogue

    from .db import storage

    settings = _settings(database_url)
    scoring = Catalogue.load(settings.rules_dir).scoring
    with _db(settings) as session:
        return storage.agency_by_name(session, name, scoring)
