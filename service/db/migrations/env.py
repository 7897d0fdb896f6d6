"""Alembic environment. The URL comes from the service settings (SCREENING_DATABASE_URL) unless a
connection is handed in (``config.attributes["connection"]``, as service.db.migrate does) or
``sqlalchemy.url`` is set in the Alembic config."""

from __future__ import annotations

from alembic import context

from service.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from service.settings import Settings

    return Settings().database_url


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    from service.db.migrate import migration_engine
    from service.settings import Settings

    engine = migration_engine(Settings(database_url=_url()))
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
