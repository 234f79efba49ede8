"""Engine and session factory, SQLite tuning, and applying the Alembic migrations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ranchersync.kernel.errors import DatabaseUnavailable, ValidationError
from ranchersync.kernel.files import create_private

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]*@")  # user:password@ in a URL a driver may quote


def database_error(exc: DBAPIError) -> DatabaseUnavailable:
    """A driver's failure as one sentence for the user: the driver's first line, never a URL's credentials, never
    SQLAlchemy's statement and parameters (they may hold data)."""
    text = str(exc.orig).strip() if exc.orig is not None else ""
    cause = text.splitlines()[0] if text else type(exc).__name__
    cause = _CREDENTIALS.sub(r"\1…@", cause)
    return DatabaseUnavailable(f"The database could not be used: {cause[:300]}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, make the file's folder and turn on WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(f"The database could not be used: its folder {folder} cannot be created "
                                      f"({exc.strerror})") from None
        if not parsed.database.startswith("file:"):
            create_private(Path(parsed.database))  # tokens are encrypted, but names, history and audit are not
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Streamlit runs one thread per browser session: WAL lets readers run beside the one writer, and the busy
    # timeout makes a second writer wait instead of failing at once. Foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit, so callers can read what they just wrote."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration that runs the project's migrations on this engine."""
    from alembic.config import Config  # Alembic is imported only when migrations run (CLI start-up stays fast)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


# The audit log is append-only for the app: it may add and read events, never change or remove one (the chain's
# head row it must update; a rewrite of the events themselves then needs the owner's credentials).
APPEND_ONLY_TABLES = ("audit_events",)
READ_ONLY_TABLES = ("alembic_version",)


def grant_app_role(engine: Engine, role: str) -> None:
    """Give the app's PostgreSQL role what it needs on this schema, as the owner that ran the migrations: read and
    write on every table, append-only on the audit log, read-only on the migrations' version. Run after every
    upgrade (a new table gets its grants)."""
    if engine.dialect.name != "postgresql":
        raise ValidationError("RANCHERSYNC_DB_APP_ROLE is for PostgreSQL: SQLite has no roles")
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        schema = quote(str(conn.execute(text("SELECT current_schema()")).scalar_one()))
        app = quote(role)
        conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {app}"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}"))
        conn.execute(text(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {app}"))
        for table in APPEND_ONLY_TABLES:
            conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {schema}.{quote(table)} FROM {app}"))
        for table in READ_ONLY_TABLES:
            conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.{quote(table)} FROM {app}"))


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to `revision`."""
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


_ASSIGNED = re.compile(r"^(revision|down_revision)\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")


def head_revisions() -> frozenset[str]:
    """The newest migrations' ids, read from the scripts' text: importing Alembic costs more than a CLI command."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _ASSIGNED.findall(script.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).update(_QUOTED.findall(value))
    return frozenset(revisions - parents)


def is_current(engine: Engine) -> bool:
    """Whether the database's schema is at the newest migrations (False for a new or older database)."""
    try:
        with engine.connect() as connection:
            stamped = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:  # no alembic_version table yet: a fresh database
        return False
    return bool(stamped) and stamped == head_revisions()


def upgrade_if_needed(engine: Engine) -> None:
    """Apply pending migrations, importing Alembic only when there are some."""
    if not is_current(engine):
        upgrade(engine)
