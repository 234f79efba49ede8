"""Tokens at rest: encrypted, rotatable, and a key file created safely."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ranchersync.config import Settings
from ranchersync.crypto import SecretKeyError, TokenCipher, load_cipher

TOKEN = "token-abcde:supersecretvalue123"


def _settings(tmp_path: Path, keys: tuple[str, ...] = ()) -> Settings:
    return Settings(database_url="sqlite://", secret_keys=keys, key_file=tmp_path / "d" / "secret.key", user="t")


def test_round_trip_and_ciphertext_hides_the_token() -> None:
    cipher = TokenCipher([Fernet.generate_key().decode()])
    stored = cipher.encrypt(TOKEN)
    assert TOKEN.encode() not in stored
    assert cipher.decrypt(stored) == TOKEN


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_cipher(_settings(tmp_path))
    key_file = tmp_path / "d" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stored = first.encrypt(TOKEN)
    # A restart reads the same key instead of making a new one (which would lose every token).
    assert load_cipher(_settings(tmp_path)).decrypt(stored) == TOKEN


def test_rotation_re_encrypts_under_the_newest_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = TokenCipher([old]).encrypt(TOKEN)
    both = load_cipher(_settings(tmp_path, (new, old)))
    assert both.decrypt(stored) == TOKEN  # older keys still decrypt
    rotated = both.rotate(stored)
    assert TokenCipher([new]).decrypt(rotated) == TOKEN
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        TokenCipher([old]).decrypt(rotated)


def test_a_wrong_key_gives_a_clear_error_without_key_material() -> None:
    stored = TokenCipher([Fernet.generate_key().decode()]).encrypt(TOKEN)
    with pytest.raises(SecretKeyError, match="RANCHERSYNC_SECRET_KEY"):
        TokenCipher([Fernet.generate_key().decode()]).decrypt(stored)
    with pytest.raises(SecretKeyError, match="not a valid Fernet key") as caught:
        TokenCipher(["not-a-key"])
    assert "not-a-key" not in str(caught.value)


def test_settings_read_comma_separated_keys() -> None:
    settings = Settings.from_env({"RANCHERSYNC_SECRET_KEY": " k1 , k2,", "RANCHERSYNC_USER": "ops"})
    assert settings.secret_keys == ("k1", "k2")
    assert settings.user == "ops"
    assert settings.database_url == "sqlite:///data/ranchersync.db"
