"""Settings from the environment (prefix ``SCREENING_``), read when the app is built, never at
import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "DEFAULT_DATABASE_URL"]

DEFAULT_DATABASE_URL = "sqlite:///var/screening.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCREENING_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path (default var/screening.db under the working "
        "folder) or postgresql+psycopg://user@host:port/db",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1, description="server processes (each loads the screener; SQLite and PostgreSQL both take several)")
    rules_dir: Path | None = Field(None, description="rules folder (default: the project's rules/)")
    model: str | None = Field(
        None, description="model version folder; empty for the shipped model (models/CURRENT); 'none' for rules only"
    )
    migrate_on_startup: bool = Field(True, description="run `alembic upgrade head` when the app starts")
    claim_ttl_minutes: int = Field(30, ge=1, description="a claim not acted on for this long is free again")
    ingest_processes: int = Field(
        -1, ge=-1, description="processes screening large ingest batches: -1 one per CPU (with one server process), 0 none"
    )
    ingest_pool_min_batch: int = Field(64, ge=1, description="postings to screen from which a batch goes to the processes")
    max_batch: int = Field(20_000, ge=1, description="most postings accepted in one POST /v1/postings")
    max_body_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="largest request body accepted (413 above)")
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        "FULL", description="PRAGMA synchronous for SQLite (WAL mode): FULL also survives a power cut"
    )
    sqlite_busy_timeout_ms: int = 30_000
    pool_size: int = 10
    auth_cache_seconds: float = Field(
        5.0, ge=0, description="how long a process remembers a key it has checked (0: ask the database every time)"
    )
    auth_fail_limit: int = Field(
        20, ge=0, description="wrong keys one client address may send per window before it gets 429 (0: no limit)"
    )
    auth_fail_window_seconds: float = Field(
        60.0, gt=0, description="the window of auth_fail_limit; a client over the limit waits until its oldest failure leaves it"
    )
    cookie_secure: bool = Field(False, description="mark the login cookie Secure (behind HTTPS)")
    precision_min_reviews: int = Field(
        5, ge=1, description="reviews an indicator needs before a low precision marks it as misleading"
    )
    log_level: str = "info"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def screener_model(self) -> str | Path | None | bool:
        """The ``model`` argument of ``Screener.load``."""
        if self.model is None or self.model == "":
            return None
        if self.model.lower() in ("none", "false", "off", "0"):
            return False
        return Path(self.model)
