"""The registry client against a real registry (Debian's docker-registry on 127.0.0.1): anonymous, basic, token."""

from __future__ import annotations

import pytest

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.registry import (
    ImageNotInRegistry,
    Platform,
    RegistryAccess,
    RegistryAuthFailed,
    resolve,
)
from ranchersync.registry.http import Credentials, Secret
from tests.core.registry_fixtures import PASSWORD, REV_NEW, SOURCE, USER, Registries

pytest_plugins = ["tests.core.registry_fixtures"]

ADMIN = Actor("admin@corp.test", "admin")


def access(host: str, user: str | None = None, password: str | None = None) -> RegistryAccess:
    credentials = Credentials(user, Secret(password)) if user and password else None
    return RegistryAccess(host, credentials, None, allow_http=True)


@pytest.mark.parametrize("which", ["anonymous", "basic", "token"])
def test_a_tag_resolves_to_the_pushed_digest_with_its_labels(registries: Registries, which: str) -> None:
    host = getattr(registries, which)
    creds = (USER, PASSWORD) if which != "anonymous" else (None, None)
    http = access(host, *creds).http()
    try:
        found = resolve(http, f"{host}/shop/web:2.4.0")
    finally:
        http.close()
    assert found.digest == registries.images["shop/web:2.4.0"]
    assert found.platforms == ("linux/amd64",)
    assert found.labels["org.opencontainers.image.revision"] == REV_NEW
    assert found.labels["org.opencontainers.image.source"] == SOURCE
    assert found.name == f"{host}/shop/web"


def test_a_missing_tag_is_not_in_the_registry(registries: Registries) -> None:
    http = access(registries.anonymous).http()
    with pytest.raises(ImageNotInRegistry, match="shop/web/manifests/9.9.9"):
        resolve(http, f"{registries.anonymous}/shop/web:9.9.9")
    with pytest.raises(ImageNotInRegistry):
        resolve(http, f"{registries.anonymous}/shop/nothing:1.0")


def test_an_index_lists_its_platforms_and_reads_the_wanted_ones_labels(registries: Registries) -> None:
    http = access(registries.anonymous).http()
    found = resolve(http, f"{registries.anonymous}/shop/multi:3.0", (Platform("linux", "arm64"),))
    assert found.digest == registries.images["shop/multi:3.0"]
    assert found.platforms == ("linux/amd64", "linux/arm64")
    assert found.platform_digest == registries.images["shop/multi:3.0-arm64"]
    assert found.labels["org.opencontainers.image.revision"] == REV_NEW  # config labels of the arm64 image
    assert found.labels["org.opencontainers.image.version"] == "3.0"  # the index's annotation wins
    arm_only = resolve(http, f"{registries.anonymous}/shop/armonly:1.0")
    assert arm_only.platforms == ("linux/arm64",) and not arm_only.runs_on(Platform("linux", "amd64"))


def test_an_image_without_labels_has_none(registries: Registries) -> None:
    found = resolve(access(registries.anonymous).http(), f"{registries.anonymous}/shop/plain:1.0")
    assert found.labels == {} and found.platforms == ("linux/amd64",)


def test_a_digest_reference_resolves_to_itself(registries: Registries) -> None:
    digest = registries.images["shop/web:2.3.0"]
    found = resolve(access(registries.anonymous).http(), f"{registries.anonymous}/shop/web@{digest}")
    assert found.digest == digest


@pytest.mark.parametrize("which", ["basic", "token"])
def test_without_or_with_wrong_credentials_access_is_refused(registries: Registries, which: str) -> None:
    host = getattr(registries, which)
    with pytest.raises(RegistryAuthFailed) as caught:
        resolve(access(host, USER, "wrong-password").http(), f"{host}/shop/web:2.4.0")
    assert "wrong-password" not in str(caught.value)
    with pytest.raises(RegistryAuthFailed):
        resolve(access(host).http(), f"{host}/shop/web:2.4.0")


def test_the_token_realm_gets_the_credentials_and_the_registry_only_the_token(registries: Registries) -> None:
    before = len(registries.token_server.requests)
    resolve(access(registries.token, USER, PASSWORD).http(), f"{registries.token}/shop/web:2.3.0")
    sent = registries.token_server.requests[before:]
    assert sent and all(h.startswith("Basic ") for h in sent)


def test_many_images_at_once_ask_the_token_realm_once_per_repository(registries: Registries) -> None:
    from ranchersync.registry import resolve_images

    host = registries.token
    images = [f"{host}/shop/web:2.3.0", f"{host}/shop/web:2.4.0", f"{host}/shop/web:2.4.0",
              f"{host}/shop/plain:1.0", f"{host}/shop/multi:3.0"] * 4
    before = len(registries.token_server.requests)
    found = resolve_images(images, {host: access(host, USER, PASSWORD)}, cache=None)
    assert {f.state for f in found.values()} == {"found"}
    assert found[f"{host}/shop/web:2.4.0"].resolution.digest == registries.images["shop/web:2.4.0"]  # type: ignore
    assert len(registries.token_server.requests) - before == 3  # shop/web, shop/plain, shop/multi: one token each


def test_registries_are_stored_with_encrypted_passwords_and_tested(ctx: AppContext, registries: Registries) -> None:
    from ranchersync import registry
    from ranchersync.models import AuditEvent, Registry

    with ctx.session() as session:
        registry.add_registry(session, ctx.cipher, actor=ADMIN, host=registries.basic, username=USER,
                              password=PASSWORD, allow_http=True)
    with ctx.session() as session:
        row = session.query(Registry).one()
        assert row.password_encrypted and PASSWORD.encode() not in row.password_encrypted
        assert registry.test_registry(session, ctx.cipher, registries.basic).ok
        events = session.query(AuditEvent).all()
        assert events and all(PASSWORD not in repr(e.after) + repr(e.before) + e.detail for e in events)
        assert PASSWORD not in repr(registry.accesses(session, ctx.cipher))


def test_keys_check_and_rotate_cover_registry_passwords(ctx: AppContext) -> None:
    from cryptography.fernet import Fernet

    from ranchersync import registry
    from ranchersync.models import Registry
    from ranchersync.security.crypto import TokenCipher
    from ranchersync.security.keys import check_keys, rotate_keys

    with ctx.session() as session:
        registry.add_registry(session, ctx.cipher, actor=ADMIN, host="registry.corp.test", username=USER,
                              password=PASSWORD)
    stranger = TokenCipher([Fernet.generate_key().decode()])
    with ctx.session() as session:
        assert check_keys(session, stranger).unreadable_registries == ("registry.corp.test",)
        assert check_keys(session, ctx.cipher).ok
    old_key = ctx.settings.secret_keys[0]
    both = TokenCipher([Fernet.generate_key().decode(), old_key])
    with ctx.session() as session:
        rotate_keys(session, both, actor=ADMIN)
    with ctx.session() as session:
        stored = session.query(Registry).one().password_encrypted
        assert stored is not None and both.newest_only().decrypt(stored) == PASSWORD
