"""The encryption keys of a database: load them without ever silently replacing them, check, generate, rotate.

A new key is made only while the database holds no encrypted data; otherwise a missing key file (the CLI run from
another folder, a container started without its volume) stops with a message naming RANCHERSYNC_SECRET_KEY and the
key file. The key check value (models.KeyCheck) tells a wrong key apart before any token is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ranchersync.access import audit
from ranchersync.access.identity import Actor, require
from ranchersync.kernel.config import Settings
from ranchersync.models import KeyCheck, NotificationSubscription, Registry, Site, utcnow
from ranchersync.security.crypto import SecretKeyError, TokenCipher, create_key_file, generate_key, read_key_file

__all__ = [
    "CHECK_TEXT",
    "KeyReport",
    "KeyRotationRefused",
    "check_keys",
    "configured_cipher",
    "generate_key",
    "load_cipher",
    "rotate_keys",
]

# Public on purpose: the check value proves which key made it, not what any secret is.
CHECK_TEXT = "ranchersync key check v1"
ENV_VAR = "RANCHERSYNC_SECRET_KEY"


class KeyRotationRefused(SecretKeyError):
    """`keys rotate` was asked to rotate to a key that is already in use: nothing to do, nothing changed."""


@dataclass(frozen=True)
class KeyReport:
    """What `keys check` found: which stored secrets the configured keys open."""

    checked: int  # secrets examined: site tokens, and the check value when there is one
    unreadable_sites: tuple[str, ...]  # names of sites whose token no configured key opens
    check_value: str  # "ok", "missing" (not written yet) or "unreadable"
    under_older_keys: int  # secrets opened only by an older key: `keys rotate` still has work
    unreadable_notifications: tuple[int, ...] = ()  # ids of notification subscriptions whose URL does not open
    unreadable_registries: tuple[str, ...] = ()  # hosts of registries whose password does not open

    @property
    def ok(self) -> bool:
        """Every stored secret decrypts with the configured keys."""
        return (not self.unreadable_sites and not self.unreadable_notifications and not self.unreadable_registries
                and self.check_value != "unreadable")


def load_cipher(settings: Settings, engine: Engine) -> TokenCipher:
    """The cipher for this database, from RANCHERSYNC_SECRET_KEY or the key file.

    The key file is created only while the database holds no encrypted data. The keys must open what is stored
    (the check value, else the site tokens); the check value is written on the first start that has none.

    Raises:
        SecretKeyError: no usable key, an unsafe key file, or keys that are not this database's.
    """
    if settings.secret_keys:
        cipher, source = TokenCipher(settings.secret_keys, ENV_VAR), ENV_VAR
    else:
        cipher, source = TokenCipher(_key_file_keys(settings, engine)), f"the key file {settings.key_file}"
    _verify_and_record(engine, cipher, source, settings)
    return cipher


def configured_cipher(settings: Settings) -> TokenCipher:
    """The configured keys as they are, never creating a key file nor looking at the database (`keys check`)."""
    if settings.secret_keys:
        return TokenCipher(settings.secret_keys, ENV_VAR)
    path = settings.key_file
    if not (path.is_symlink() or path.exists()):
        raise SecretKeyError(f"no encryption key: {ENV_VAR} is not set and the key file {path} does not exist")
    return TokenCipher(read_key_file(path))


def check_keys(session: Session, cipher: TokenCipher) -> KeyReport:
    """Try every stored secret with the configured keys; names the sites whose token does not open, never a token."""
    unreadable: list[str] = []
    older = checked = 0
    for name, token in session.execute(select(Site.name, Site.token_encrypted).order_by(Site.name)):
        checked += 1
        index = cipher.opening_key(token)
        if index is None:
            unreadable.append(name)
        older += bool(index)
    check = session.scalar(select(KeyCheck.check_value).where(KeyCheck.id == 1))
    status = "missing"
    if check is not None:
        checked += 1
        index = cipher.opening_key(check)
        status = "unreadable" if index is None else "ok"
        older += bool(index)
    # Apprise URLs are secrets too (webhook tokens): encrypted the same way, checked the same way.
    closed: list[int] = []
    for sub_id, url in session.execute(select(NotificationSubscription.id, NotificationSubscription.url_encrypted)):
        checked += 1
        index = cipher.opening_key(url)
        closed += [] if index is not None else [sub_id]
        older += bool(index)
    # Registry passwords likewise.
    locked: list[str] = []
    for host, password in session.execute(select(Registry.host, Registry.password_encrypted)
                                           .where(Registry.password_encrypted.is_not(None)).order_by(Registry.host)):
        checked += 1
        index = cipher.opening_key(password or b"")
        locked += [] if index is not None else [host]
        older += bool(index)
    return KeyReport(checked, tuple(unreadable), status, older, tuple(closed), tuple(locked))


def rotate_keys(session: Session, cipher: TokenCipher, *, actor: Actor) -> int:
    """Re-encrypt every stored secret under the newest key, then verify that the newest key alone opens them all.

    Returns how many site tokens were re-encrypted. The caller commits; on any error nothing must be committed.

    Raises:
        KeyRotationRefused: the newest key is already the one in use (or it is the only one).
        SecretKeyError: a stored token no configured key opens (the sites are named), or the check afterwards failed.
        PermissionDenied: the actor is not an admin.
    """
    require(actor, "manage_catalogue")
    if cipher.key_count == 1:
        raise KeyRotationRefused(
            "only one key is configured, so there is nothing to rotate to: make a new key with "
            f"`python -m ranchersync keys generate`, put it first ({ENV_VAR}=new,old or the first line of the key "
            "file), keep the current key after it, and run `keys rotate` again"
        )
    check = session.get(KeyCheck, 1)
    rows = list(session.scalars(select(Site).order_by(Site.name)))
    in_use = [check.check_value] if check is not None else [site.token_encrypted for site in rows]
    if all(cipher.opening_key(value) == 0 for value in in_use):
        raise KeyRotationRefused(
            "the first key is already the one this database uses, so rotating would change nothing: put a new key "
            "first (`python -m ranchersync keys generate`) and keep the current key after it"
        )
    unreadable = [site.name for site in rows if not cipher.opens(site.token_encrypted)]
    if unreadable:
        raise SecretKeyError(
            f"no configured key opens the token of site(s) {', '.join(unreadable)}: add the key they were "
            "encrypted with after the new one (or enter their tokens again); nothing was rotated"
        )
    for site in rows:
        site.token_encrypted = cipher.rotate(site.token_encrypted)
    for subscription in session.scalars(select(NotificationSubscription)):
        subscription.url_encrypted = cipher.rotate(subscription.url_encrypted)  # SecretKeyError: nothing committed
    for registry in session.scalars(select(Registry).where(Registry.password_encrypted.is_not(None))):
        registry.password_encrypted = cipher.rotate(registry.password_encrypted or b"")
    if check is None:
        check = KeyCheck(id=1, check_value=b"")
        session.add(check)
    check.check_value = cipher.encrypt(CHECK_TEXT)
    check.rotated_at = utcnow()
    session.flush()
    _verify_rotation(session, cipher.newest_only())
    audit.record(session, actor, "keys.rotate", object_type="keys", detail=f"{len(rows)} site token(s) re-encrypted "
                 "under the newest key")
    return len(rows)


def _verify_rotation(session: Session, newest: TokenCipher) -> None:
    # Read back what the database now holds (not the objects in memory): the newest key alone must open it all,
    # or the older keys could not be dropped.
    stale = [name for name, token in session.execute(select(Site.name, Site.token_encrypted))
             if not newest.opens(token)]
    stale += [f"notification #{sub_id}" for sub_id, url in session.execute(
        select(NotificationSubscription.id, NotificationSubscription.url_encrypted)) if not newest.opens(url)]
    stale += [f"registry {host}" for host, password in session.execute(
        select(Registry.host, Registry.password_encrypted).where(Registry.password_encrypted.is_not(None)))
        if not newest.opens(password or b"")]
    check = session.scalar(select(KeyCheck.check_value).where(KeyCheck.id == 1))
    if stale or check is None or not newest.opens(check):
        what = f"site(s) {', '.join(sorted(stale))}" if stale else "the key check value"
        raise SecretKeyError(f"after rotating, the newest key does not open {what}: nothing was changed")


# --- loading ----------------------------------------------------------------------------------------------------


def _key_file_keys(settings: Settings, engine: Engine) -> list[str]:
    path = settings.key_file
    if path.is_symlink() or path.exists():  # a dangling symlink is an error to report, never a reason to create
        return read_key_file(path)
    with engine.connect() as conn:
        holds_data = _holds_encrypted_data(conn)
    if holds_data:
        raise SecretKeyError(
            f"the key file {path} does not exist, but the database {_describe(settings.database_url)} already "
            "holds encrypted tokens: a new key could not read them, so none is made. Set "
            f"{ENV_VAR} to the key they were encrypted with, or RANCHERSYNC_KEY_FILE to the path of its key file "
            "(by default beside the SQLite database file); was the command run with another database folder, or "
            "the container started without its data volume?"
        )
    return create_key_file(path)


def _holds_encrypted_data(conn: Connection) -> bool:
    # Works before the migrations ran: the check table may not exist yet, the sites table exists since 0001.
    tables = inspect(conn)
    if tables.has_table(KeyCheck.__tablename__) and conn.scalar(select(KeyCheck.id).limit(1)) is not None:
        return True
    return tables.has_table(Site.__tablename__) and conn.scalar(select(Site.id).limit(1)) is not None


def _verify_and_record(engine: Engine, cipher: TokenCipher, source: str, settings: Settings) -> None:
    for _attempt in range(2):
        try:
            with engine.begin() as conn:
                _verify_and_record_once(conn, cipher, source, settings)
            return
        except IntegrityError:
            continue  # another process wrote the check value at the same moment: verify against theirs
    raise SecretKeyError("the key check value could not be written: try again")  # pragma: no cover


def _verify_and_record_once(conn: Connection, cipher: TokenCipher, source: str, settings: Settings) -> None:
    tables = inspect(conn)
    has_checks = tables.has_table(KeyCheck.__tablename__)
    if has_checks:
        check = conn.scalar(select(KeyCheck.check_value).where(KeyCheck.id == 1))
        if check is not None:
            if not cipher.opens(check):
                raise _wrong_keys(source, settings)
            return
    tokens = list(conn.scalars(select(Site.token_encrypted))) if tables.has_table(Site.__tablename__) else []
    opened = [index for index in map(cipher.opening_key, tokens) if index is not None]
    if tokens and not opened:
        raise _wrong_keys(source, settings)
    if has_checks:
        # Made with the oldest key still in use, so `keys rotate` knows the newest key is new.
        conn.execute(insert(KeyCheck).values(id=1, check_value=cipher.encrypt_with(max(opened, default=0),
                                                                                     CHECK_TEXT)))


def _wrong_keys(source: str, settings: Settings) -> SecretKeyError:
    return SecretKeyError(
        f"{source} does not hold the key the tokens in {_describe(settings.database_url)} were encrypted with: set "
        f"{ENV_VAR} to that key (several keys comma-separated, newest first) or RANCHERSYNC_KEY_FILE to its key "
        "file; nothing was changed"
    )


def _describe(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        return os.path.abspath(url.database)
    return url.render_as_string(hide_password=True)
