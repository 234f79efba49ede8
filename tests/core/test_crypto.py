"""Tokens at rest: encrypted, rotatable; the key file read safely and created once."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.security.crypto import SecretKeyError, TokenCipher

TOKEN = "token-abcde:supersecretvalue123"


def _context(tmp_path: Path, keys: tuple[str, ...] = ()) -> AppContext:
    """A context on a fresh database whose keys come from the environment (`keys`) or the key file."""
    return AppContext(Settings(database_url=f"sqlite:///{tmp_path / 'rs.db'}", secret_keys=keys,
                               key_file=tmp_path / "d" / "secret.key", user="t"))


def _key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "d" / "secret.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_round_trip_and_ciphertext_hides_the_token() -> None:
    cipher = TokenCipher([Fernet.generate_key().decode()])
    stored = cipher.encrypt(TOKEN)
    assert TOKEN.encode() not in stored
    assert cipher.decrypt(stored) == TOKEN


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = _context(tmp_path).cipher
    key_file = tmp_path / "d" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    stored = first.encrypt(TOKEN)
    # A restart reads the same key instead of making a new one (which would lose every token).
    assert _context(tmp_path).cipher.decrypt(stored) == TOKEN
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # no temporary file left behind


def test_rotation_re_encrypts_under_the_newest_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = TokenCipher([old]).encrypt(TOKEN)
    both = _context(tmp_path, (new, old)).cipher
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


def test_the_default_key_file_is_absolute_and_beside_the_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).key_file == tmp_path / "data" / "secret.key"
    beside = Settings.from_env({"RANCHERSYNC_DATABASE_URL": "sqlite:////srv/rs/state/app.db"})
    assert beside.key_file == Path("/srv/rs/state/secret.key")
    # Another database has no file to sit beside: data/ under the folder it was started in, made absolute.
    remote = Settings.from_env({"RANCHERSYNC_DATABASE_URL": "postgresql+psycopg://u:p@db.example.com/rs"})
    assert remote.key_file == tmp_path / "data" / "secret.key"
    relative = Settings.from_env({"RANCHERSYNC_KEY_FILE": "keys/../rs.key"})
    assert relative.key_file == tmp_path / "rs.key"
    up = Settings.from_env({"RANCHERSYNC_DATABASE_URL": "sqlite:///../x/rs.db"})
    assert up.key_file == tmp_path.parent / "x" / "secret.key"


def test_comment_and_blank_lines_are_ignored_and_several_keys_are_newest_first(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _key_file(tmp_path, f"# Rancher Sync Manager key file\n\n   # the new key, since 2026-11\n{new}\n\n"
                        f"  # the old one, still decrypts\n  {old}  \n")
    cipher = _context(tmp_path).cipher
    assert cipher.key_count == 2
    assert TokenCipher([new]).decrypt(cipher.encrypt(TOKEN)) == TOKEN  # encrypts with the first key
    assert cipher.decrypt(TokenCipher([old]).encrypt(TOKEN)) == TOKEN


def test_a_malformed_line_is_named_by_its_number_never_by_its_content(tmp_path: Path) -> None:
    _key_file(tmp_path, f"# keys\n{Fernet.generate_key().decode()}\nnot-a-fernet-key-at-all\n")
    with pytest.raises(SecretKeyError, match="line 3 of .*secret.key is not a valid Fernet key") as caught:
        _ = _context(tmp_path).cipher
    assert "not-a-fernet-key" not in str(caught.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    key = Fernet.generate_key().decode()
    path = _key_file(tmp_path, key + "\n", mode)
    with pytest.raises(SecretKeyError, match=f"chmod 600 {path}") as caught:
        _ = _context(tmp_path).cipher
    assert key not in str(caught.value)
    path.chmod(0o400)  # read-only for its owner is fine
    assert _context(tmp_path).cipher.key_count == 1


def test_a_dangling_symlink_is_an_error_not_a_reason_to_make_a_new_key(tmp_path: Path) -> None:
    link = tmp_path / "d" / "secret.key"
    link.parent.mkdir()
    target = tmp_path / "volume" / "secret.key"  # e.g. a secret volume that was not mounted
    link.symlink_to(target)
    with pytest.raises(SecretKeyError, match="symbolic link .* does not exist"):
        _ = _context(tmp_path).cipher
    assert not target.exists() and link.is_symlink()
    target.parent.mkdir()
    target.write_text(Fernet.generate_key().decode() + "\n")
    target.chmod(0o600)
    assert _context(tmp_path).cipher.key_count == 1  # a live symlink is followed


def test_an_empty_key_file_being_written_by_a_concurrent_first_start_is_waited_for(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    path = tmp_path / "d" / "secret.key"
    path.parent.mkdir()
    # As the other process leaves it between its O_CREAT|O_EXCL and its write.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def finish_writing() -> None:
        time.sleep(0.3)
        path.write_text(key + "\n")

    writer = threading.Thread(target=finish_writing)
    writer.start()
    try:
        cipher = _context(tmp_path).cipher
    finally:
        writer.join()
    assert TokenCipher([key]).decrypt(cipher.encrypt(TOKEN)) == TOKEN  # theirs, not overwritten by a new one
    assert path.read_text() == key + "\n"


def test_a_key_file_that_stays_empty_is_an_error_and_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ranchersync.security.crypto.EMPTY_FILE_WAIT_SECONDS", 0.2)
    path = _key_file(tmp_path, "")
    with pytest.raises(SecretKeyError, match="is empty"):
        _ = _context(tmp_path).cipher
    assert path.read_text() == ""
