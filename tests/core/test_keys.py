"""Keys are never silently replaced: the key check value, the refusals, and `keys generate|check|rotate`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text, update

from ranchersync.catalogue import sites
from ranchersync.cli import main
from ranchersync.context import AppContext
from ranchersync.kernel.config import Settings
from ranchersync.models import KeyCheck, Site
from ranchersync.security.crypto import SecretKeyError, TokenCipher
from ranchersync.simulator import SimulatedRancher
from ranchersync.storage import db
from tests.builders import ADMIN

TOKEN = "token-abcde:supersecretvalue123"
SECRET = TOKEN.split(":")[1]
Cli = Callable[..., tuple[int, str, str]]


def _settings(tmp_path: Path, keys: tuple[str, ...] = (), key_file: Path | None = None) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'data' / 'rs.db'}", secret_keys=keys,
                    key_file=key_file or tmp_path / "data" / "secret.key", user="t")


def _context(settings: Settings) -> AppContext:
    ctx = AppContext(settings)
    ctx.upgrade_database()
    return ctx


def _load(settings: Settings) -> TokenCipher:
    """The cipher a fresh start would load (its engine closed afterwards)."""
    ctx = AppContext(settings)
    try:
        return ctx.cipher
    finally:
        ctx.engine.dispose()


def _add_site(ctx: AppContext, name: str = "eu", token: str = TOKEN) -> None:
    with ctx.session() as session:
        sites.add_site(session, ctx.cipher, name=name,
                       connection=sites.make_connection(f"https://{name}.example.com", token), actor=ADMIN)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI in-process on a fresh database; keys given per call (None: the key file)."""
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'cli.db'}")
    monkeypatch.delenv("RANCHERSYNC_KEY_FILE", raising=False)
    monkeypatch.setenv("SITE_TOKEN", TOKEN)

    def run(*args: str, keys: str | None = None) -> tuple[int, str, str]:
        if keys is None:
            monkeypatch.delenv("RANCHERSYNC_SECRET_KEY", raising=False)
        else:
            monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", keys)
        status = main(list(args))
        out, err = capsys.readouterr()
        assert SECRET not in out + err
        return status, out, err

    return run


# --- loading: create only while nothing is encrypted, else refuse ------------------------------------------------


def test_a_missing_key_file_is_not_replaced_while_the_database_holds_tokens(tmp_path: Path) -> None:
    ctx = _context(_settings(tmp_path))
    _add_site(ctx)
    ctx.engine.dispose()
    (tmp_path / "data" / "secret.key").unlink()  # a container started without its volume, say
    with pytest.raises(SecretKeyError) as caught:
        _ = _load(_settings(tmp_path))
    message = str(caught.value)
    assert "RANCHERSYNC_SECRET_KEY" in message and str(tmp_path / "data" / "secret.key") in message
    assert not (tmp_path / "data" / "secret.key").exists()  # no new key made


def test_a_key_file_elsewhere_is_not_made_for_a_database_with_tokens(tmp_path: Path) -> None:
    ctx = _context(_settings(tmp_path))
    _add_site(ctx)
    elsewhere = tmp_path / "other-folder" / "data" / "secret.key"
    with pytest.raises(SecretKeyError, match="RANCHERSYNC_KEY_FILE"):
        _ = _load(_settings(tmp_path, key_file=elsewhere))
    assert not elsewhere.exists()


def test_the_cli_run_from_another_folder_finds_the_key_beside_the_database(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rancher: SimulatedRancher
) -> None:
    monkeypatch.setenv("EU_TOKEN", rancher.token)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    status, _, err = cli("sites", "add", "--name", "eu", "--url", rancher.url, "--token-env", "EU_TOKEN")
    assert status == 0, err
    assert (tmp_path / "data" / "secret.key").exists()
    monkeypatch.chdir(tmp_path / "b")
    status, _, err = cli("sites", "test", "eu")
    assert status == 0, err
    assert not (tmp_path / "b" / "data").exists()


def test_wrong_keys_are_refused_at_start_without_showing_any_key(tmp_path: Path) -> None:
    right, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _add_site(_context(_settings(tmp_path, (right,))))
    with pytest.raises(SecretKeyError, match="RANCHERSYNC_SECRET_KEY does not hold the key") as caught:
        _ = _load(_settings(tmp_path, (wrong,)))
    assert right not in str(caught.value) and wrong not in str(caught.value)
    assert _load(_settings(tmp_path, (wrong, right))).key_count == 2  # the old key after a new one
    with pytest.raises(SecretKeyError, match="key 2 of RANCHERSYNC_SECRET_KEY is not a valid Fernet key"):
        _load(_settings(tmp_path, (right, "paste-error")))


def test_the_check_value_is_written_on_first_start_and_holds_no_secret(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    ctx = _context(_settings(tmp_path, (key,)))
    _add_site(ctx)
    with ctx.session() as session:
        check = session.scalars(select(KeyCheck)).one()
    assert TokenCipher([key]).decrypt(check.check_value) == "ranchersync key check v1"  # a public constant
    assert key.encode() not in check.check_value and SECRET not in repr(check)
    assert check.check_value.hex() not in repr(check)
    assert check.created_at is not None and check.rotated_at is None


def test_before_the_check_table_exists_the_site_tokens_decide(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ctx = AppContext(settings)
    db.upgrade(ctx.engine, "0003")  # the cipher is loaded before `db upgrade` ran, e.g. on an older database
    key = Fernet.generate_key().decode()
    with ctx.session() as session:  # the row as that schema holds it (the model has columns added since)
        session.execute(text("INSERT INTO sites (name, url, token_encrypted, insecure, allow_http, active, "
                             "created_at, updated_at) VALUES ('eu', 'https://eu.example.com', :token, false, false, "
                             "true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                        {"token": TokenCipher([key]).encrypt(TOKEN)})
    with pytest.raises(SecretKeyError, match="already holds encrypted tokens"):
        _ = _load(settings)
    assert not settings.key_file.exists()

    settings.key_file.write_text(f"{Fernet.generate_key().decode()}\n{key}\n")  # a new key first, the old one kept
    settings.key_file.chmod(0o600)
    _ = _load(settings)
    db.upgrade(ctx.engine)
    _ = _load(settings)
    with ctx.session() as session:
        check = session.scalars(select(KeyCheck.check_value)).one()
    # Made with the key the tokens are under, so `keys rotate` still sees that the first key is new.
    assert TokenCipher([key]).decrypt(check) == "ranchersync key check v1"


def test_two_first_starts_at_once_end_with_one_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _context(settings).engine.dispose()
    barrier = threading.Barrier(4)
    ciphers: list[TokenCipher] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            ciphers.append(_load(settings))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    stored = ciphers[0].encrypt(TOKEN)
    assert all(c.decrypt(stored) == TOKEN for c in ciphers)


# --- keys generate | check | rotate ------------------------------------------------------------------------------


def test_keys_generate_prints_only_a_new_key(cli: Cli, tmp_path: Path) -> None:
    status, out, _ = cli("keys", "generate")
    assert status == 0
    first = out.strip()
    Fernet(first.encode())  # a valid key
    assert cli("keys", "generate")[1].strip() != first
    status, out, _ = cli("keys", "generate", "--json")
    Fernet(json.loads(out)["key"].encode())
    assert not (tmp_path / "data").exists()  # no database, no key file


def test_keys_check_names_the_sites_whose_token_does_not_decrypt(cli: Cli, tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    for name in ("broken", "fine"):
        status, _, err = cli("sites", "add", "--name", name, "--url", f"https://{name}.example.com",
                             "--token-env", "SITE_TOKEN", "--no-test", keys=key)
        assert status == 0, err
    status, out, _ = cli("keys", "check", keys=key)
    assert status == 0 and "3 stored secret(s) checked" in out and "Every stored secret decrypts" in out

    foreign = TokenCipher([Fernet.generate_key().decode()]).encrypt(TOKEN)
    ctx = AppContext(Settings.from_env({"RANCHERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'cli.db'}",
                                        "RANCHERSYNC_SECRET_KEY": key}))
    with ctx.session() as session:
        session.execute(update(Site).where(Site.name == "broken").values(token_encrypted=foreign))
    ctx.engine.dispose()
    status, out, _ = cli("keys", "check", keys=key)
    assert status == 1
    assert "broken" in out and "fine" not in out
    status, out, _ = cli("keys", "check", "--json", keys=key)
    assert status == 1 and json.loads(out)["unreadableSites"] == ["broken"]


def test_keys_check_with_the_wrong_key_reports_instead_of_refusing(cli: Cli) -> None:
    key = Fernet.generate_key().decode()
    cli("sites", "add", "--name", "eu", "--url", "https://eu.example.com", "--token-env", "SITE_TOKEN", "--no-test",
        keys=key)
    wrong = Fernet.generate_key().decode()
    status, out, err = cli("keys", "check", keys=wrong)
    assert status == 1 and "eu" in out and "check value does not open" in out
    assert key not in out + err and wrong not in out + err


def test_keys_rotate_refuses_a_first_key_that_is_not_new_and_verifies_afterwards(cli: Cli) -> None:
    old = Fernet.generate_key().decode()
    status, _, err = cli("sites", "add", "--name", "eu", "--url", "https://eu.example.com",
                         "--token-env", "SITE_TOKEN", "--no-test", keys=old)
    assert status == 0, err
    status, _, err = cli("keys", "rotate", keys=old)
    assert status == 2 and "only one key" in err

    new = cli("keys", "generate")[1].strip()
    status, out, err = cli("keys", "rotate", "--json", keys=f"{new},{old}")
    assert status == 0, err
    assert json.loads(out) == {"rotated": 1, "verified": True}
    status, _, err = cli("keys", "rotate", keys=f"{new},{old}")  # run twice: the first key is no longer new
    assert status == 2 and "already the one this database uses" in err and new not in err

    status, out, _ = cli("keys", "check", keys=new)  # the old key can go
    assert status == 0 and "Every stored secret decrypts" in out
    status, out, _ = cli("keys", "check", "--json", keys=old)  # and alone it opens nothing any more
    assert status == 1 and json.loads(out)["unreadableSites"] == ["eu"]


def test_a_rotation_whose_result_does_not_open_with_the_new_key_changes_nothing(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    cli("sites", "add", "--name", "eu", "--url", "https://eu.example.com", "--token-env", "SITE_TOKEN", "--no-test",
        keys=old)
    with monkeypatch.context() as patched:
        patched.setattr(TokenCipher, "rotate", lambda self, ciphertext: ciphertext)  # a rotation that did nothing
        status, _, err = cli("keys", "rotate", keys=f"{new},{old}")
    assert status != 0 and "newest key does not open site(s) eu" in err and "nothing was changed" in err
    status, out, _ = cli("keys", "check", "--json", keys=f"{new},{old}")
    assert status == 0 and json.loads(out)["underOlderKeys"] == 2  # the token and the check value: rolled back
