"""The key check value and the refusals on PostgreSQL (the check table is found in the test's own schema)."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from ranchersync.catalogue import sites
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import KeyCheck
from ranchersync.security import keys
from ranchersync.security.crypto import SecretKeyError, TokenCipher
from ranchersync.storage import db
from tests.builders import ADMIN

TOKEN = "token-abcde:supersecretvalue123"


def _load(settings: Settings) -> TokenCipher:
    """The cipher a fresh start would load (its engine closed afterwards)."""
    ctx = AppContext(settings)
    try:
        return ctx.cipher
    finally:
        ctx.engine.dispose()


def _add_site(ctx: AppContext) -> None:
    with ctx.session() as session:
        connection = sites.make_connection("https://eu.example.com", TOKEN)
        sites.add_site(session, ctx.cipher, name="eu", connection=connection, actor=ADMIN)


def test_wrong_or_missing_keys_are_refused_and_rotation_is_verified(ctx: AppContext, settings: Settings) -> None:
    _add_site(ctx)
    with ctx.session() as session:
        assert session.scalar(select(KeyCheck.rotated_at)) is None
    wrong = dataclasses.replace(settings, secret_keys=(Fernet.generate_key().decode(),))
    with pytest.raises(SecretKeyError, match="does not hold the key"):
        _ = _load(wrong)
    from_file = dataclasses.replace(settings, secret_keys=())
    with pytest.raises(SecretKeyError, match="already holds encrypted tokens"):
        _ = _load(from_file)
    assert not settings.key_file.exists()

    new = keys.generate_key()
    both = _load(dataclasses.replace(settings, secret_keys=(new, *settings.secret_keys)))
    with ctx.session() as session:
        assert keys.rotate_keys(session, both, actor=ADMIN) == 1
    with ctx.session() as session, pytest.raises(keys.KeyRotationRefused):
        keys.rotate_keys(session, both, actor=ADMIN)
    with ctx.session() as session:
        assert keys.check_keys(session, TokenCipher([new])).ok


def test_before_the_check_table_exists_the_site_tokens_decide(settings: Settings) -> None:
    ctx = AppContext(settings)
    db.upgrade(ctx.engine, "0003")
    with ctx.session() as session:  # the row as that schema holds it (the model has columns added since)
        session.execute(text("INSERT INTO sites (name, url, token_encrypted, insecure, allow_http, active, "
                             "created_at, updated_at) VALUES ('eu', 'https://eu.example.com', :token, false, false, "
                             "true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                        {"token": TokenCipher(settings.secret_keys).encrypt(TOKEN)})
    with pytest.raises(SecretKeyError, match="already holds encrypted tokens"):
        _ = _load(dataclasses.replace(settings, secret_keys=()))
    _ = _load(settings)
    db.upgrade(ctx.engine)
    _ = _load(settings)
    with ctx.session() as session:
        assert TokenCipher(settings.secret_keys).opens(session.scalars(select(KeyCheck.check_value)).one())
    ctx.engine.dispose()
