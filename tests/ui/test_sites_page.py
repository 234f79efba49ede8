"""The sites page: list with health and token expiry, test, edit (token replaced, never shown), deactivate, remove."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from streamlit.testing.v1 import AppTest

from ranchersync.catalogue import instances, sites
from ranchersync.context import AppContext
from tests.builders import ADMIN
from tests.ui.conftest import OpenApp, Seed, assert_no_token, assert_ok
from tests.ui.fakes import GOOD_TOKEN, FakeRancher, field_errors, shown

PAGE = "pages/1_Sites.py"
NEW_TOKEN = "token-fghij:n3wsecretvalue0123456789abcdefghijklmnopqrstuvwxyz01"
IN_PROD = (("shop-prod", "rancher-eu", "Prod", "c-m-prd01", "shop-prod"),)


def _site(ctx: AppContext, name: str = "rancher-eu") -> sites.Site:
    with ctx.session() as session:
        return sites.get_site(session, name)


def _token(ctx: AppContext, name: str = "rancher-eu") -> str:
    return ctx.cipher.decrypt(_site(ctx, name).token_encrypted)


def _text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def _ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.parametrize(
    ("expires_in", "badge"),
    [
        (dt.timedelta(days=90), ":green-badge[:material/key: token valid until"),
        (dt.timedelta(days=5), ":orange-badge[:material/schedule: token expires in 5 days]"),
        (-dt.timedelta(days=2), ":red-badge[:material/key_off: token expired 2 days ago]"),
    ],
)
def test_the_list_shows_health_user_latency_and_token_expiry(
    open_app: OpenApp, seed: Seed, expires_in: dt.timedelta, badge: str
) -> None:
    seed(expires_at=dt.datetime.now(dt.UTC) + expires_in)

    at = open_app(PAGE)

    text = _text(at)
    assert "#### rancher-eu" in text and "https://rancher-eu.example.com" in shown(text)
    assert ":green-badge[:material/check_circle: connected]" in text
    assert badge in text
    assert "admin · last successful contact 5 min ago" in text and "20 ms" in text
    assert_no_token(at, GOOD_TOKEN)


def test_testing_a_site_records_the_answer(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = open_app(PAGE)

    at.button(key=f"site_test_{ids['rancher-eu']}").click().run()

    assert_ok(at)
    assert "Connection to 'rancher-eu' works: signed in as Default Admin (12 ms)." in shown(at.toast[0].value)
    assert _site(app_env).last_latency_ms == 12


def test_a_failed_test_is_explained_and_recorded(
    open_app: OpenApp, seed: Seed, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    ids = seed()
    fake_rancher.failure = "tls"
    at = open_app(PAGE)

    at.button(key=f"site_test_{ids['rancher-eu']}").click().run()

    assert_ok(at)
    error = at.error[0].value
    assert "Connection to 'rancher-eu' failed" in error and "Upload the CA bundle" in error
    assert "certificate not trusted" in (_site(app_env).last_error or "")
    assert ":red-badge[:material/error: unreachable]" in _text(at)


def test_edit_shows_no_token_and_keeps_it_when_left_empty(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"site_edit_{ids['rancher-eu']}").click().run()
    key = f"edit_site_{ids['rancher-eu']}"
    assert at.text_input(key=f"{key}_token").value == ""
    assert at.text_input(key=f"{key}_name").value == "rancher-eu"
    assert_no_token(at, GOOD_TOKEN)

    at.text_input(key=f"{key}_name").input("rancher-europe")
    at.button(key="edit_site_save").click().run()

    assert_ok(at)
    assert "Site 'rancher-europe' saved" in at.toast[0].value
    assert _token(app_env, "rancher-europe") == GOOD_TOKEN


def test_a_new_token_replaces_the_old_one(
    open_app: OpenApp, seed: Seed, app_env: AppContext, fake_rancher: FakeRancher
) -> None:
    ids = seed()
    fake_rancher.token = NEW_TOKEN  # the old one was revoked in Rancher
    at = open_app(PAGE)
    at.button(key=f"site_edit_{ids['rancher-eu']}").click().run()

    at.text_input(key=f"edit_site_{ids['rancher-eu']}_token").input(NEW_TOKEN)
    at.button(key="edit_site_save").click().run()

    assert_ok(at)
    assert _token(app_env) == NEW_TOKEN
    assert fake_rancher.seen_tokens[-1] == NEW_TOKEN, "the saved site was tested with its new token"
    assert not at.get("dialog")
    assert_no_token(at, NEW_TOKEN)


def test_a_bad_edit_changes_nothing(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    at = open_app(PAGE)
    at.button(key=f"site_edit_{ids['rancher-eu']}").click().run()

    at.text_input(key=f"edit_site_{ids['rancher-eu']}_name").input(" ")
    at.text_input(key=f"edit_site_{ids['rancher-eu']}_url").input("ftp://rancher")
    at.text_input(key=f"edit_site_{ids['rancher-eu']}_token").input(NEW_TOKEN)
    at.button(key="edit_site_save").click().run()

    assert field_errors(at) == ["the site name must not be empty",
                                "the Rancher URL must use https: write it like https://rancher.example.com"]
    assert at.get("dialog")
    assert _site(app_env).url == "https://rancher-eu.example.com"


def test_a_ca_bundle_can_be_uploaded(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    ids = seed()
    pem = _ca_pem()
    at = open_app(PAGE)
    at.button(key=f"site_edit_{ids['rancher-eu']}").click().run()
    key = f"edit_site_{ids['rancher-eu']}"
    at.radio(key=f"{key}_tls").set_value("bundle").run()

    at.file_uploader(key=f"{key}_ca_file").set_value(("ca.pem", pem, "application/x-pem-file")).run()
    at.text_input(key=f"{key}_token").input(GOOD_TOKEN)  # other trust: the token is given again (Hardening 1)
    at.button(key="edit_site_save").click().run()

    assert_ok(at)
    site = _site(app_env)
    assert site.ca_bundle == pem.decode().strip() + "\n" and not site.insecure


def test_deactivate_and_activate(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    site_id = seed()["rancher-eu"]
    at = open_app(PAGE)

    at.button(key=f"site_active_{site_id}").click().run()

    assert not _site(app_env).active
    assert "Site 'rancher-eu' deactivated." in at.toast[0].value
    assert at.button(key=f"site_active_{site_id}").label == "Activate"
    assert at.button(key=f"site_test_{site_id}").disabled

    at.button(key=f"site_active_{site_id}").click().run()
    assert _site(app_env).active


def test_remove_an_unused_site(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    site_id = seed(site_names=("rancher-eu", "rancher-us"))["rancher-us"]
    at = open_app(PAGE)
    at.button(key=f"site_remove_{site_id}").click().run()
    assert "Remove **rancher-us**" in "\n".join(m.value for m in at.markdown)

    at.button(key="remove_site_confirm").click().run()

    assert_ok(at)
    with app_env.session() as session:
        assert [s.name for s in sites.list_sites(session)] == ["rancher-eu"]


def test_removing_a_used_site_needs_the_explicit_cascade(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    site_id = seed(instance_specs=IN_PROD)["rancher-eu"]
    at = open_app(PAGE)
    at.button(key=f"site_remove_{site_id}").click().run()

    assert "**shop-prod** in Prod" in "\n".join(m.value for m in at.markdown)
    assert at.button(key="remove_site_confirm").disabled
    assert at.button(key="remove_site_confirm").label == "Remove site and 1 app instance(s)"

    at.checkbox(key="remove_site_cascade").check().run()
    at.button(key="remove_site_confirm").click().run()

    assert_ok(at)
    assert "Site 'rancher-eu' removed with its app instances shop-prod." in at.toast[0].value
    with app_env.session() as session:
        assert sites.list_sites(session) == [] and instances.list_instances(session) == []


def test_a_cascade_removes_only_what_the_confirmation_showed(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    site_id = seed(instance_specs=IN_PROD)["rancher-eu"]
    at = open_app(PAGE)
    at.button(key=f"site_remove_{site_id}").click().run()
    at.checkbox(key="remove_site_cascade").check().run()
    with app_env.session() as session:  # meanwhile, someone maps another namespace of this site
        placement = instances.Placement("c-m-dev01", "dev01", "shop-dev")
        instances.add_instance(session, name="shop-dev", site=site_id, environment="Dev", placement=placement,
                               actor=ADMIN)

    at.button(key="remove_site_confirm").click().run()

    assert "The app instances changed while this was open" in at.error[0].value
    with app_env.session() as session:
        assert len(sites.list_sites(session)) == 1 and len(instances.list_instances(session)) == 2
    assert "**shop-dev** in Dev" in "\n".join(m.value for m in at.markdown), "the dialog now shows both"
    assert not at.checkbox(key="remove_site_cascade").value, "and asks for the confirmation again"

    at.checkbox(key="remove_site_cascade").check().run()
    at.button(key="remove_site_confirm").click().run()

    assert "Site 'rancher-eu' removed with its app instances shop-dev, shop-prod." in at.toast[0].value


def test_an_empty_add_site_form_reports_every_missing_field_at_once_under_each_field(
    open_app: OpenApp, seed: Seed, app_env: AppContext
) -> None:
    seed()
    at = open_app(PAGE)
    at.button(key="site_add").click().run()

    at.button(key="add_site_save").click().run()

    assert field_errors(at) == [
        "the site name must not be empty", "the Rancher URL must not be empty", "the API token must not be empty"
    ]
    assert "3 fields need a change" in shown(at.error[0].value)
    assert at.get("dialog"), "the form stays open to be fixed"
    at.text_input(key="add_site_name").input("rancher-new").run()
    assert len(field_errors(at)) == 3, "the errors stay under their fields while the user fixes them"
    at.text_input(key="add_site_url").input("ftp://rancher.example.com")
    at.button(key="add_site_save").click().run()
    assert field_errors(at) == [
        "the Rancher URL must use https: write it like https://rancher.example.com", "the API token must not be empty"
    ]
    with app_env.session() as session:
        assert [s.name for s in sites.list_sites(session)] == ["rancher-eu"]
