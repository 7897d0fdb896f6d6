"""The schema comes from the Alembic migrations; the models must match them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from svc_helpers import settings_for

from service.db.engine import make_engine
from service.db.migrate import current_revision, head_revision, upgrade
from service.db.models import Base

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_and_models_agree(db_url):
    engine = make_engine(settings_for(db_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
        assert diff == [], diff
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_removes_everything(tmp_path):
    from alembic import command

    from service.db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    s = settings_for(url)
    upgrade(s)
    upgrade(s)
    engine = make_engine(s)
    try:
        assert {"users", "postings", "flags", "reviews", "identifiers", "posting_indicators"} <= set(sa.inspect(engine).get_table_names())
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_the_app_migrates_a_new_database_at_startup(tmp_path, svc_screener):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    db = tmp_path / "sub" / "fresh.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}"), svc_screener)
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
    assert db.exists()
    engine = make_engine(settings_for(f"sqlite:///{db}"))
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_alembic_command_line_uses_the_service_settings(tmp_path):
    db = tmp_path / "cli.db"
    env = {"SCREENING_DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ROOT / "service" / "alembic.ini"), "upgrade", "head"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        assert "reviews" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_migration_0005_refingerprints_stored_html_postings_so_their_reposts_still_join(db_url, svc_screener, monkeypatch):
    """A database grouped before fingerprints read through HTML: after the upgrade, a plain
    repost of a stored HTML ad joins the HTML ad's group (it would start its own otherwise)."""
    import screening.links as links
    from service.db.engine import make_sessionmaker
    from service.db.models import NearDupBand, PostingGroup
    from service.ingest import ingest_postings

    html = ("<div><p>Tuyển lao động đi Nhật, <b>phí trọn gói</b> 160&nbsp;triệu, liên hệ ngay để được tư vấn,</p>"
            "<p>bay nhanh trong tháng này, không cần tiếng, bao đỗ visa, đặt cọc trước 20&nbsp;triệu giữ chỗ</p></div>")
    plain = ("Tuyển lao động đi Nhật, phí trọn gói 160 triệu, liên hệ ngay để được tư vấn, "
             "bay nhanh trong tháng này, không cần tiếng, bao đỗ visa, đặt cọc trước 20 triệu giữ chỗ")
    s = settings_for(db_url)
    engine = make_engine(s)
    try:
        S = make_sessionmaker(engine)
        with S() as session:
            [r] = ingest_postings(session, svc_screener, [{"source": "b", "external_id": "html", "text": html}])
        from service.db import storage

        with S() as session:
            storage.group_postings(session, [(r.posting_id, html)])
            session.commit()
            # what the earlier fingerprint (markup read as text) had stored
            monkeypatch.setattr(links, "mask_markup", lambda text: None)
            old_key, old_sig = links.fingerprint(html)
            monkeypatch.undo()
            session.execute(sa.update(PostingGroup).where(PostingGroup.posting_id == r.posting_id)
                            .values(exact_key=old_key, signature=old_sig))
            session.execute(sa.delete(NearDupBand).where(NearDupBand.posting_id == r.posting_id))
            session.execute(sa.insert(NearDupBand), [{"band_key": b, "posting_id": r.posting_id} for b in links.band_keys(old_sig)])
            session.execute(sa.text("UPDATE alembic_version SET version_num = '0004'"))
            session.commit()
        upgrade(s)
        assert current_revision(engine) == head_revision()
        with S() as session:
            key, sig = session.execute(sa.select(PostingGroup.exact_key, PostingGroup.signature)
                                       .where(PostingGroup.posting_id == r.posting_id)).one()
            assert (key, sig) == links.fingerprint(html) and key == links.fingerprint(plain)[0]
            [r2] = ingest_postings(session, svc_screener, [{"source": "b", "external_id": "plain", "text": plain}])
            groups = storage.group_postings(session, [(r2.posting_id, plain)])
            session.commit()
        assert groups[r2.posting_id] == r.posting_id
    finally:
        engine.dispose()
