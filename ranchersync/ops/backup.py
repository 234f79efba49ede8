"""`db backup --to FILE` and `db restore --from FILE`: SQLite through its online backup API, PostgreSQL through
`pg_dump --format=custom` / `pg_restore`.

The PostgreSQL tools get the connection through libpq's environment (PGHOST, PGUSER, PGPASSWORD, PGOPTIONS…),
never on their command line, where `ps` would show a password. Only the schema the app uses is dumped (its
`current_schema()`: `public`, or the one a `-csearch_path=` option names), and a restore puts it back into the same
schema. A restore refuses a database that holds data unless forced, refuses a backup made by a newer version of the
app, and brings an older backup's schema up to date afterwards.

Restoring rolls the audit log back to the backup's, and a prefix of a chain verifies: so replacing data needs an
admin, a SQLite backup whose audit chain does not verify is refused, and every restore appends a `db.restore` event
naming the file, the backup's chain head and who restored it (`audit verify` lists them).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, MetaData, Table, create_engine, func, inspect, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.kernel.errors import BadInput, OperationFailed, PermissionDenied
from ranchersync.kernel.files import create_private
from ranchersync.kernel.logs import redact
from ranchersync.models import AuditHead
from ranchersync.storage import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Tables whose rows do not make a database "hold data": the schema's version and the key check value.
_BOOKKEEPING = frozenset({"alembic_version", "key_checks", "audit_head"})  # counted out, backed up all the same
# libpq's own variables for the URL's query parameters we pass on (sslmode, options=-csearch_path=…).
_LIBPQ_PARAMS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                 "sslkey": "PGSSLKEY", "options": "PGOPTIONS", "connect_timeout": "PGCONNECT_TIMEOUT",
                 "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS"}


class BackupFailed(OperationFailed):
    """A backup or a restore could not be made."""

    kind = "backup_failed"
    default_title = "The backup or restore failed"
    default_hint = "Nothing was changed in the database; the message says what went wrong."


class BackupRefused(BadInput):
    """A backup or restore that would overwrite something, or a file that is not a backup of this app."""

    kind = "backup_refused"
    default_title = "The backup or restore was refused"
    default_hint = "Nothing was changed; the message says why (use --force to replace a database that holds data)."


@dataclass(frozen=True)
class BackupInfo:
    """What a backup or restore did."""

    path: Path
    database: str  # "sqlite" or "postgresql"
    revision: str  # the schema version of the backup
    upgraded: bool = False  # a restore brought an older backup's schema up to date
    chain_head: tuple[int, str] | None = None  # the backup's audit chain head (last event id, its hash), if known


def backup(engine: Engine, target: Path) -> BackupInfo:
    """Write a consistent copy of the database to `target` (a new file; written beside it, then renamed)."""
    target = Path(target)
    if target.exists():
        raise BackupRefused(f"{target} exists already: choose a new file name (a backup never overwrites)")
    if not target.parent.is_dir():
        raise BackupRefused(f"the folder {target.parent} does not exist")
    revision = _revision_of(engine)
    if revision is None:
        raise BackupRefused("the database has no schema yet (nothing to back up): run `db upgrade` first")
    partial = target.with_name(f".{target.name}.partial")
    create_private(partial)  # a backup holds everything the database does: 0600 before a byte is written
    try:
        if engine.dialect.name == "sqlite":
            _sqlite_backup(engine, partial)
        elif engine.dialect.name == "postgresql":
            _pg_dump(engine, partial)
        else:
            raise BackupRefused(f"backups of {engine.dialect.name} databases are not supported")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupInfo(target, engine.dialect.name, revision)


def restore(engine: Engine, source: Path, *, force: bool = False, actor: Actor | None = None) -> BackupInfo:
    """Replace the database's content with the backup in `source`; refuses a database holding data unless `force`
    and `actor` is an admin. Appends a `db.restore` audit event by `actor` (the CLI's, else "unknown").

    Raises BackupRefused (exit 2) for a non-empty database, a file that is not a backup of this kind of database,
    a backup from a newer version of the app or one whose audit chain does not verify; PermissionDenied (exit 3)
    when data would be replaced by someone who is not an admin; BackupFailed when the restore itself fails.
    """
    source = Path(source)
    if not source.is_file():
        raise BackupRefused(f"{source} is not a file")
    with source.open("rb") as file:
        head = file.read(16)
    kind = "sqlite" if head.startswith(SQLITE_MAGIC) else "postgresql" if head.startswith(PG_MAGIC) else None
    if kind is None:
        raise BackupRefused(f"{source} is neither a SQLite database nor a pg_dump archive (--format=custom)")
    if kind != engine.dialect.name:
        raise BackupRefused(f"{source} is a {kind} backup; the database is {engine.dialect.name}: restore it into a "
                            f"{kind} database")
    revision = _sqlite_file_revision(source) if kind == "sqlite" else _pg_archive_revision(engine, source)
    if revision is None:
        raise BackupRefused(f"{source} holds no Rancher Sync Manager database (no schema version)")
    if revision not in known_revisions():
        raise BackupRefused(f"{source} was made by a newer version of the app (schema {revision}): upgrade the app "
                            "first")
    held = table_counts(engine)
    if held and not force:
        listed = ", ".join(f"{name}: {count}" for name, count in sorted(held.items()))
        raise BackupRefused(f"the database holds data ({listed}): restore into an empty database, or give "
                            "--force to replace it")
    if held:
        if actor is None:
            raise PermissionDenied("replacing a database that holds data needs an admin, and no one was named")
        require(actor, "restore_database")
    chain: tuple[int, str] | None = _sqlite_chain_head(source) if kind == "sqlite" else None
    if kind == "sqlite":
        _sqlite_restore(engine, source)
    else:
        _pg_restore(engine, source)
    engine.dispose()  # connections opened before the restore may hold the old schema's state
    upgraded = not db.is_current(engine)
    if upgraded:
        db.upgrade(engine)
    if kind == "postgresql":
        chain = _restored_chain_head(engine, source)
    _record_restore(engine, source, revision, chain, actor)
    return BackupInfo(source, kind, revision, upgraded, chain)


def _chain_head(session: Session, source: Path) -> tuple[int, str]:
    report = audit.verify(session)
    if not report.ok:
        raise BackupRefused(f"{source}'s audit chain does not verify (event #{report.broken_at}: {report.problem}): "
                            "it is not restored")
    found = session.get(AuditHead, 1)
    return (found.last_id, found.last_hash) if found is not None else (0, audit.GENESIS)


def _sqlite_chain_head(source: Path) -> tuple[int, str] | None:
    """Verify the backup file's audit chain (read-only) and return its head; None when it has no audit log yet."""
    reader = create_engine(f"sqlite:///file:{source.resolve()}?mode=ro&uri=true")
    try:
        if "audit_events" not in inspect(reader).get_table_names():
            return None
        with Session(reader) as session:
            return _chain_head(session, source)
    finally:
        reader.dispose()


def _restored_chain_head(engine: Engine, source: Path) -> tuple[int, str]:
    """PostgreSQL: the archive is verified once restored (pg_restore cannot be read table by table cheaply); a
    chain that does not verify is reported as a refusal, and the restore event still records what happened."""
    with Session(engine) as session:
        try:
            return _chain_head(session, source)
        except BackupRefused:
            _record_restore(engine, source, "", None, None, broken=True)
            raise


def _record_restore(engine: Engine, source: Path, revision: str, head: tuple[int, str] | None,
                    actor: Actor | None, broken: bool = False) -> None:
    who = actor if actor is not None else Actor("unknown (restored into an empty database)", "admin", "cli")
    shown = f"#{head[0]} {head[1][:16]}" if head else "none"
    with Session(engine) as session, session.begin():
        audit.record(session, who, "db.restore", object_type="database", object_name=source.name,
                     after={"file": str(source), "revision": revision, "chainHeadId": head[0] if head else None,
                            "chainHeadHash": head[1] if head else None, "chainVerified": not broken},
                     detail=f"restored from {source} (backup's audit chain head {shown})"
                            + ("; its audit chain does NOT verify" if broken else ""))


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the app's schema, for the tables that hold any (bookkeeping tables left out)."""
    names = [n for n in inspect(engine).get_table_names() if n not in _BOOKKEEPING]
    counts: dict[str, int] = {}
    metadata = MetaData()
    with engine.connect() as connection:
        for name in names:
            table = Table(name, metadata)
            count = connection.scalar(select(func.count()).select_from(table))
            if count:
                counts[name] = int(count)
    return counts


_REVISION = re.compile(r"^revision\b[^=\n]*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


def known_revisions() -> frozenset[str]:
    """Every migration this version of the app knows."""
    return frozenset(
        match
        for script in (db.MIGRATIONS_DIR / "versions").glob("*.py")
        for match in _REVISION.findall(script.read_text(encoding="utf-8"))
    )


def _revision_of(engine: Engine) -> str | None:
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as connection:
        return connection.scalar(text("SELECT version_num FROM alembic_version"))


# --- SQLite -----------------------------------------------------------------------------------------------------


def _sqlite_backup(engine: Engine, target: Path) -> None:
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        with sqlite3.connect(target) as copy:
            source.backup(copy)  # the online backup API: consistent even while others write
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        copy.close()
    finally:
        raw.close()


def _sqlite_file_revision(path: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            if connection.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupRefused(f"{path} is damaged (SQLite's integrity check failed)")
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        connection.close()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def _sqlite_restore(engine: Engine, source: Path) -> None:
    engine.dispose()
    raw = engine.raw_connection()
    try:
        target = raw.driver_connection
        assert isinstance(target, sqlite3.Connection)
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as backup_file:
            backup_file.backup(target)  # page by page, under the target's write lock: all or nothing
        backup_file.close()
    except sqlite3.Error as error:
        raise BackupFailed(f"the restore failed: {error}") from None
    finally:
        raw.close()


# --- PostgreSQL -------------------------------------------------------------------------------------------------


def libpq_environment(url: URL) -> dict[str, str]:
    """The libpq variables that name the server, the database and the password (never an argument)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    pairs = {"PGHOST": url.host, "PGPORT": str(url.port) if url.port else None, "PGUSER": url.username,
             "PGPASSWORD": url.password, "PGDATABASE": url.database}
    env.update({k: str(v) for k, v in pairs.items() if v})
    for param, variable in _LIBPQ_PARAMS.items():
        value = url.query.get(param)
        if isinstance(value, tuple):
            value = value[-1] if value else None
        if value:
            env[variable] = value
    return env


def _server_major(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SHOW server_version_num")) or 0) // 10000


def _current_schema(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.scalar(text("SELECT current_schema()")))


def find_tool(name: str, server_major: int) -> str:
    """The newest `pg_dump`/`pg_restore` at least as new as the server (an older one refuses to dump it)."""
    candidates = [p for p in (shutil.which(name),) if p]
    # Debian keeps each major version's tools apart (/usr/lib/postgresql/15/bin): the newest first.
    versioned = Path("/usr/lib/postgresql").glob(f"*/bin/{name}")
    candidates += [str(p) for p in sorted(versioned, key=lambda p: int(p.parts[-3]) if p.parts[-3].isdecimal() else 0,
                                          reverse=True)]
    seen: list[str] = []
    for candidate in candidates:
        version = _tool_major(candidate)
        seen.append(f"{candidate} ({version or '?'})")
        if version and version >= server_major:
            return candidate
    if not candidates:
        raise BackupFailed(f"{name} is not installed: install the PostgreSQL client tools, version {server_major} "
                           f"or newer (Debian: apt-get install postgresql-client-{server_major})")
    raise BackupFailed(f"the server runs PostgreSQL {server_major} but the {name} found is older "
                       f"({', '.join(seen)}): install postgresql-client-{server_major} or newer")


def _tool_major(path: str) -> int | None:
    try:
        answer = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", answer.stdout)
    return int(found.group(1)) if found else None


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    try:
        answer = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600, check=False)
    except OSError as error:
        raise BackupFailed(f"{what} could not start: {error}") from None
    if answer.returncode != 0:
        detail = redact(answer.stderr.strip() or answer.stdout.strip())[-2000:]
        raise BackupFailed(f"{what} failed (exit {answer.returncode}): {detail}")
    return answer.stdout


def _pg_dump(engine: Engine, target: Path) -> None:
    tool = find_tool("pg_dump", _server_major(engine))
    schema = _current_schema(engine)
    env = libpq_environment(engine.url)
    _run([tool, "--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}", f"--file={target}"],
         env, "pg_dump")


def _archive_list(engine: Engine, source: Path) -> tuple[str, list[str]]:
    tool = find_tool("pg_restore", _server_major(engine))
    listing = _run([tool, "--list", str(source)], libpq_environment(engine.url), "pg_restore --list")
    return tool, listing.splitlines()


def _pg_archive_revision(engine: Engine, source: Path) -> str | None:
    tool = find_tool("pg_restore", _server_major(engine))
    script = _run([tool, "--data-only", "--table=alembic_version", "--file=-", str(source)],
                  libpq_environment(engine.url), "pg_restore")
    lines = script.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and index + 1 < len(lines):
            value = lines[index + 1].strip()
            return value if value and value != "\\." else None
    return None


# `215; 1259 16386 TABLE DATA public sites postgres`: id; table oid, oid, type (upper-case words), schema, name.
_ENTRY = re.compile(r"^\d+;\s+\d+\s+\d+\s+(?P<type>[A-Z]+(?: [A-Z]+)*)\s+(?P<schema>\S+)\s+(?P<name>\S+)")


def _pg_restore(engine: Engine, source: Path) -> None:
    tool, entries = _archive_list(engine, source)
    schema = _current_schema(engine)
    kept: list[str] = []
    dumped_schemas: set[str] = set()
    for line in entries:
        found = _ENTRY.match(line)
        if found is None:
            kept.append(line)  # comments
            continue
        if found["type"] == "SCHEMA":  # the schema exists already; --clean would try to drop it
            continue
        if found["schema"] != "-":
            dumped_schemas.add(found["schema"])
        kept.append(line)
    if dumped_schemas - {schema}:
        raise BackupRefused(f"{source} holds schema {', '.join(sorted(dumped_schemas))}; the database URL uses schema "
                            f"{schema}: restore with a URL on that schema")
    _drop_tables_not_in(engine, {m["name"] for line in kept if (m := _ENTRY.match(line)) and m["type"] == "TABLE"})
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as listing:
        listing.write("\n".join(kept) + "\n")
    try:
        _run([tool, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", f"--use-list={listing.name}", f"--dbname={engine.url.database}", str(source)],
             libpq_environment(engine.url), "pg_restore")
    finally:
        os.unlink(listing.name)


def _drop_tables_not_in(engine: Engine, dumped: set[str]) -> None:
    """Tables the backup does not hold (a newer migration's): `--clean` would leave them and the upgrade after the
    restore would then find them in its way."""
    metadata = MetaData()
    metadata.reflect(engine)
    extra = [t for t in metadata.sorted_tables if t.name not in dumped]
    if extra:
        with engine.begin() as connection:
            metadata.drop_all(connection, tables=extra)
