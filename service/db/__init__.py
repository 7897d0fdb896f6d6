"""Persistence: SQLAlchemy 2 models (models.py), the engine (engine.py), the storage layer where
every query lives (storage.py) and Alembic migrations (migrations/, run by migrate.py)."""
