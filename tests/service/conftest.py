"""Fixtures for the service: a small fixed screener built once, a fresh database per test on
SQLite (a copy of a migrated template file) and on PostgreSQL (one schema per test session,
emptied before each test), an app and a client over it, and a user per role.

PostgreSQL is at 127.0.0.1:5432, database ``test``, trust auth (SCREENING_TEST_PG_URL overrides).
Unreachable, its tests skip with a message; under CI=true they fail instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from svc_helpers import BENIGN, FEE, RISKY, ROLES, need, settings_for

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("SCREENING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES = ("assessment_history", "posting_agencies", "agencies", "registry_history", "registry_firms", "registry_imports",
          "reviews", "flags", "identifiers", "posting_indicators", "postings", "users")


@pytest.fixture(scope="session")
def svc_screener():
    """Rules only (no classifier): fast, and fixed for the whole session."""
    from screening.screener import Screener

    s = Screener.load(model=False)
    # The tests below lean on how the rules judge three fixed ads: say so plainly if that changes.
    risky, fee, benign = (s.screen(t) for t in (RISKY, FEE, BENIGN))
    assumptions = {
        "RISKY is flagged with scam_compound_destination": risky.flagged and any(h.indicator == "scam_compound_destination" for h in risky.counted_hits),
        "FEE is flagged": fee.flagged,
        "BENIGN is not flagged": not benign.flagged,
    }
    broken = [k for k, ok in assumptions.items() if not ok]
    if broken:
        pytest.fail("the service tests' fixed ads (tests/service/svc_helpers.py) no longer screen as assumed: "
                    + "; ".join(broken), pytrace=False)
    return s


# --------------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    from service.db.migrate import upgrade
    from service.settings import Settings

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(Settings(database_url=f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A fresh schema of the test database for this session (and this xdist worker), migrated."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(PG_URL)
    dsn = f"host={u.host or '127.0.0.1'} port={u.port or 5432} dbname={u.database} user={u.username or 'postgres'}"
    try:
        conn = psycopg.connect(dsn, connect_timeout=3, autocommit=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        need("PostgreSQL", f"cannot connect to {u.render_as_string(hide_password=True)} ({type(exc).__name__}: {str(exc).strip()[:200]})")
    schema = "svc_" + uuid.uuid4().hex[:12]
    conn.execute(f'CREATE SCHEMA "{schema}"')
    url = u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    from service.db.migrate import upgrade
    from service.settings import Settings

    try:
        upgrade(Settings(database_url=url))
        yield url
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def _empty_pg(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as c:
        c.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A database URL with the schema in place and no rows, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "service.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_schema_url")
    _empty_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    path = tmp_path / "service.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def pg_url(pg_schema_url) -> str:
    _empty_pg(pg_schema_url)
    return pg_schema_url


# -------------------------------------------------------------------------------- app, users


@pytest.fixture
def app(db_url, svc_screener):
    from service.app import create_app

    return create_app(settings_for(db_url), svc_screener)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def session(app):
    with app.state.sessionmaker() as s:
        yield s


@pytest.fixture
def keys(app) -> dict[str, str]:
    """An API key per role, and a second inspector (``inspector2``)."""
    from service.db import storage

    out = {}
    with app.state.sessionmaker() as s:
        for role in ROLES:
            out[role] = storage.create_user(s, f"{role}-user", role)[1]
        out["inspector2"] = storage.create_user(s, "inspector-two", "inspector")[1]
    return out


