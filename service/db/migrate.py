"""Running the migrations programmatically (``alembic upgrade head``), as the app does at startup.

On SQLite the whole upgrade runs in one real transaction (SQLAlchemy emits BEGIN, so DDL is not
autocommitted statement by statement); on PostgreSQL a transaction-level advisory lock keeps two
starting processes from migrating at once.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..settings import Settings
from .engine import make_engine

__all__ = ["alembic_config", "upgrade", "migration_engine", "current_revision", "head_revision"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ADVISORY_LOCK = 0x5C4EE9  # any constant shared by all instances


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migration_engine(settings: Settings) -> Engine:
    engine = make_engine(settings.model_copy(update={"pool_size": 1}))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade(settings: Settings, revision: str = "head") -> None:
    engine = migration_engine(settings)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
