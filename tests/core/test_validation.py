"""User input checks: each bad value gets one clear message."""

from __future__ import annotations

import pickle

import pytest

from ranchersync.context import AppContext
from ranchersync.kernel.errors import InvalidFields, ValidationError
from ranchersync.kernel.validation import (
    check_ca_bundle,
    check_color,
    check_fields,
    check_namespace,
    check_token,
    clean_description,
    clean_name,
    normalize_rancher_url,
)
from tests.builders import ADMIN

TOKEN = "token-p62nb:chcnszhxp6zqrbxwcz5z2r2w9jrftlvtwvzbsr88v4mk28kw4k5c2p"


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        ("https://rancher.example.com", False, "https://rancher.example.com"),
        ("https://Rancher.Example.com/", False, "https://rancher.example.com"),
        ("https://rancher.example.com/v3", False, "https://rancher.example.com"),
        ("https://rancher.example.com/dashboard/home", False, "https://rancher.example.com"),
        ("https://example.com/rancher/", False, "https://example.com/rancher"),
        ("https://rancher.example.com:8443", False, "https://rancher.example.com:8443"),
        ("http://127.0.0.1:8080", False, "http://127.0.0.1:8080"),
        ("http://localhost:8080", False, "http://localhost:8080"),
        ("http://[::1]:8080", False, "http://[::1]:8080"),
        ("http://rancher.lab", True, "http://rancher.lab"),
        ("  https://rancher.example.com  ", False, "https://rancher.example.com"),
    ],
)
def test_urls_that_are_accepted(url: str, allow_http: bool, expected: str) -> None:
    assert normalize_rancher_url(url, allow_http=allow_http) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "must not be empty"),
        ("rancher.example.com", "is not a URL"),
        ("ftp://rancher.example.com", "must use https"),
        ("wss://rancher.example.com", "must use https"),
        ("http://rancher.example.com", "must use https"),
        ("http://10.0.0.5", "must use https"),
        ("https://user:pw@rancher.example.com", "not in the URL"),
        ("https://rancher.example.com/?x=1", "query"),
        ("https://rancher.example.com:99999", "invalid port"),
        ("https://", "is not a URL"),
    ],
)
def test_urls_that_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        normalize_rancher_url(url)


def test_token_in_bearer_form_is_accepted() -> None:
    assert check_token(f" {TOKEN}\n") == TOKEN
    assert check_token("kubeconfig-user-abc12:secret123") == "kubeconfig-user-abc12:secret123"


@pytest.mark.parametrize(
    "token",
    ["", "justasecretwithoutcolon", "token-abc:", ":hunter2", "token abc:hunter2", f"Bearer {TOKEN}",
     f"{TOKEN}\r\nX-Evil: 1"],
)
def test_bad_tokens_are_refused_without_echoing_them(token: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_token(token)
    if token.strip():
        assert token.strip() not in str(caught.value)
    assert TOKEN.split(":")[1] not in str(caught.value)


@pytest.mark.parametrize("namespace", ["shop-prod", "a", "x" * 63, "ns1-2-3"])
def test_valid_namespaces(namespace: str) -> None:
    assert check_namespace(namespace) == namespace


@pytest.mark.parametrize("namespace", ["", "Shop", "-shop", "shop-", "shop_prod", "x" * 64, "shop.prod"])
def test_invalid_namespaces(namespace: str) -> None:
    with pytest.raises(ValidationError):
        check_namespace(namespace)


def test_colors() -> None:
    assert check_color("#2e7d32") == "#2E7D32"
    for bad in ("red", "#12345", "#GGGGGG", "2E7D32"):
        with pytest.raises(ValidationError, match="#RRGGBB"):
            check_color(bad)


def test_names_are_trimmed_and_bounded() -> None:
    assert clean_name("  Prod ", "environment") == "Prod"
    with pytest.raises(ValidationError, match="must not be empty"):
        clean_name("   ", "environment")
    with pytest.raises(ValidationError, match="longer than 100"):
        clean_name("x" * 101, "site")


@pytest.mark.parametrize(("name", "reason"), [
    ("Prod\x1b[2J", "control characters"),
    ("Prod\rStage", "control characters"),
    ("Prod\nStage", "control characters"),
    ("\u202eProd", "bidirectional"),
    ("Pr\u2066od", "bidirectional"),
    ("\u200b\u200b", "no visible character"),
    ("\u200d \ufeff", "no visible character"),
])
def test_names_that_do_not_read_as_they_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        clean_name(name, "environment")


def test_names_in_any_script_and_with_joiners_inside_are_kept() -> None:
    for name in ("Prod-EU", "Продакшн", "本番", "क्‍ष", "👩\u200d💻 team"):
        assert clean_name(name, "environment") == name


def test_descriptions_keep_line_breaks_but_not_escapes_and_are_bounded() -> None:
    assert clean_description(" first line\nsecond ") == "first line\nsecond"
    assert clean_description(None) == ""
    with pytest.raises(ValidationError, match="control characters"):
        clean_description("ok\x1b]8;;http://x\x07link")
    with pytest.raises(ValidationError, match="longer than 500"):
        clean_description("x" * 501)


def test_ca_bundle_must_be_a_certificate(tmp_path) -> None:
    assert check_ca_bundle(None) is None
    assert check_ca_bundle("  ") is None
    with pytest.raises(ValidationError, match="not a PEM certificate"):
        check_ca_bundle("hello")
    pem = _self_signed_pem()
    assert check_ca_bundle(pem.encode()).startswith("-----BEGIN CERTIFICATE-----")


def _self_signed_pem() -> str:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_ca_bundle_is_capped_before_it_is_parsed() -> None:
    with pytest.raises(ValidationError, match="larger than 256 KiB"):
        check_ca_bundle("-----BEGIN CERTIFICATE-----\n" + "A" * (256 * 1024))


@pytest.mark.parametrize(
    "name", ["pr\u200bod", "prod\u200e", "\u200fprod", "pro\u2060d", "p\u00adrod", "prod\ufeff", "\u2061prod"]
)
def test_names_with_invisible_format_characters_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="invisible format characters"):
        clean_name(name, "environment")


def test_three_environments_cannot_all_read_prod(ctx: AppContext) -> None:
    from ranchersync.catalogue import environments

    with ctx.session() as session:
        environments.add_environment(session, actor=ADMIN, name="prod")
    for lookalike in ("ＰＲＯＤ", "Prod", "ｐｒｏｄ", "PROD", "pro\u200dd", "PRO\u200cD"):
        with pytest.raises(ValidationError, match="already exists"), ctx.session() as session:
            environments.add_environment(session, actor=ADMIN, name=lookalike)


def test_every_wrong_field_is_named_at_once_and_crosses_a_process_intact() -> None:
    def wrong() -> str:
        raise ValidationError("the namespace must not be empty")

    with pytest.raises(InvalidFields) as caught:
        check_fields(name=lambda: clean_name("", "site"), color=lambda: check_color("#2e7d32"), namespace=wrong)

    assert caught.value.fields == {"name": "the site name must not be empty",
                                   "namespace": "the namespace must not be empty"}
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.fields, str(copy), copy.title) == (caught.value.fields, str(caught.value), "Please check the form")
    assert check_fields(color=lambda: check_color("#2e7d32")) == {"color": "#2E7D32"}
