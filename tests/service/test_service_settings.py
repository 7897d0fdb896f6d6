"""Settings come from the environment when the app is built, not when modules are imported."""

from __future__ import annotations

import importlib
from pathlib import Path

from service.settings import DEFAULT_DATABASE_URL, Settings


def test_defaults_need_no_configuration(monkeypatch):
    for k in ("SCREENING_DATABASE_URL", "SCREENING_HOST", "SCREENING_PORT", "SCREENING_MODEL"):
        monkeypatch.delenv(k, raising=False)
    s = Settings()
    assert s.database_url == DEFAULT_DATABASE_URL == "sqlite:///var/screening.db"
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.screener_model() is None


def test_environment_is_read_with_the_screening_prefix(monkeypatch):
    monkeypatch.setenv("SCREENING_DATABASE_URL", "postgresql+psycopg://u@db:5432/x")
    monkeypatch.setenv("SCREENING_CLAIM_TTL_MINUTES", "5")
    monkeypatch.setenv("SCREENING_MODEL", "none")
    s = Settings()
    assert s.database_url.startswith("postgresql+psycopg") and s.claim_ttl_minutes == 5 and s.screener_model() is False
    assert not s.is_sqlite
    monkeypatch.setenv("SCREENING_MODEL", "models/v1")
    assert Settings().screener_model() == Path("models/v1")


def test_importing_the_service_reads_no_setting(monkeypatch, tmp_path, svc_screener):
    """The factory reads the environment; importing service.app does not."""
    monkeypatch.setenv("SCREENING_DATABASE_URL", "not-a-url://")
    import service.app

    importlib.reload(service.app)  # would fail if settings were read at import
    monkeypatch.setenv("SCREENING_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    app = service.app.create_app(screener=svc_screener)
    assert app.state.settings.database_url.endswith("x.db")
