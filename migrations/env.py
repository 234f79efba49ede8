"""Alembic environment: runs on the engine handed over by ranchersync.storage.db, or on RANCHERSYNC_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from ranchersync.kernel.config import Settings
from ranchersync.models import Base
from ranchersync.storage.db import make_engine

config = context.config
engine = config.attributes.get("engine") or make_engine(Settings.from_env().database_url)

with engine.connect() as connection:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # Batch migrations copy and recreate tables; enforced foreign keys would break that (Alembic docs).
        # The pragma is a no-op inside a transaction, so it goes first.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=is_sqlite)
    with context.begin_transaction():
        context.run_migrations()
    if is_sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
