"""Building the engine: SQLite in WAL mode with a busy timeout and foreign keys on; PostgreSQL
with a pool. Nothing here runs at import."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from ..settings import Settings

__all__ = ["make_engine", "make_sessionmaker", "sqlite_path"]


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory databases or other backends)."""
    u = make_url(url)
    if not u.drivername.startswith("sqlite") or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.drivername.startswith("sqlite"):
        path = sqlite_path(settings.database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
            pool_size=settings.pool_size,
            max_overflow=2 * settings.pool_size,
        )
        sync = settings.sqlite_synchronous
        busy = int(settings.sqlite_busy_timeout_ms)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute(f"PRAGMA busy_timeout={busy}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=2 * settings.pool_size,
        pool_pre_ping=True,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
