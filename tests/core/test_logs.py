"""JSON logs (`RANCHERSYNC_LOG_FORMAT=json`): one object per line with the event's facts, every sync step logged,
and no secret ever in a line — checked on a real sync against the simulated Rancher."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ranchersync.access.identity import Actor
from ranchersync.context import AppContext
from ranchersync.kernel import logs
from ranchersync.simulator import SimulatedRancher
from ranchersync.sync import SyncOptions, apply_plan, new_request_id, plan_environments

ROOT = Path(__file__).resolve().parents[2]
FAST = SyncOptions(timeout_seconds=20, poll_seconds=0.2)
APPRISE_URL = "mailtos://ops:Hunter2-Mail-Pass@smtp.example.com/?to=oncall@example.com"
SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The JSON handler on the root logger, writing into a buffer."""
    logs.remove_logging()
    stream = io.StringIO()
    logs.setup_logging("json", "INFO", stream)
    yield stream
    logs.remove_logging()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_real_sync_logs_each_step_and_never_a_secret(demo: AppContext, rancher_us: SimulatedRancher,
                                                       json_log: io.StringIO) -> None:
    log = logging.getLogger("ranchersync.test")
    fernet_key = demo.settings.secret_keys[0]
    # What careless code might log: the token, a header, the key, an encrypted token, notification URLs.
    log.info("calling %s with token %s", rancher_us.url, rancher_us.token)
    log.info("headers: %s", {"Authorization": f"Bearer {rancher_us.token}", "Accept": "application/json"})
    log.warning("key %s, stored %s", fernet_key, Fernet(fernet_key.encode()).encrypt(b"token-abcde:xyz").decode())
    log.error("notify %s and %s failed", APPRISE_URL, SLACK_URL)
    try:
        raise RuntimeError(f"401 for token {rancher_us.token}")
    except RuntimeError:
        log.exception("request failed")

    with demo.session() as session:
        plan = plan_environments(session, demo.cipher, "Stage", "Prod", services=["frontend"], default_target="all")
    operation_id = apply_plan(demo, plan, actor=Actor("ann@example.com", "admin", "cli"), request_id=new_request_id(),
                              options=FAST)

    text = json_log.getvalue()
    secret_half = rancher_us.token.split(":", 1)[1]
    for secret in (secret_half, fernet_key, "Hunter2-Mail-Pass", "TIiajkdnlazkcOXrIdevi7FQ", "gAAAAA"):
        assert secret not in text
    assert "[REDACTED]" in text

    records = lines(json_log)
    assert all({"time", "level", "event", "message"} <= set(r) for r in records)
    steps = [r for r in records if r.get("operation_id") == operation_id]
    events = [r["event"] for r in steps]
    assert events[0] == "sync.started" and events[-1] == "sync.done"
    for stage in ("sync.planned", "sync.applying", "sync.applied", "sync.verifying", "sync.success"):
        assert events.count(stage) == 2, events  # frontend runs in two app instances
    assert {r["actor"] for r in steps} == {"ann@example.com"}
    assert {r["environment"] for r in steps} == {"Prod"}
    assert steps[-1]["status"] == "complete"
    failure = next(r for r in records if r["message"] == "request failed")
    assert "RuntimeError" in str(failure["exception"]) and secret_half not in str(failure["exception"])


@pytest.mark.parametrize(("raw", "kept"), [
    ("token-ab12c:abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrst", "token-ab12c:"),
    ("Authorization: Bearer abc.def.ghi", "Authorization: "),
    ("https://admin:s3cr3tpass@rancher.example.com/v3", "https://[REDACTED]@rancher.example.com/v3"),
    ("postgresql+psycopg://app:s3cr3tpass@db:5432/rs", "postgresql+psycopg://[REDACTED]@db:5432/rs"),
    ("tgram://123456789:s3cr3tpassABCDEFG/chat", "tgram://[REDACTED]"),
    ("https://rancher.example.com/v3?token=s3cr3tpass", "token=[REDACTED]"),
])
def test_redaction_keeps_what_helps_and_drops_the_secret(raw: str, kept: str) -> None:
    out = logs.redact(f"before {raw} after")
    assert kept in out and "s3cr3tpass" not in out and "abcdefghijklmnop" not in out and "abc.def" not in out
    # A header's value runs to the end of its line (values have spaces: "Bearer …", cookies).
    assert out.startswith("before ") and (out.endswith(" after") or raw.startswith("Authorization"))


def test_plain_urls_and_messages_stay_readable() -> None:
    text = "GET https://rancher.example.com/k8s/clusters/c-m-1/apis/apps/v1 took 12 ms for web @ shop-east"
    assert logs.redact(text) == text


def test_the_cli_logs_json_lines_when_asked(ctx: AppContext, tmp_path: Path) -> None:
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": ctx.settings.database_url,
           "RANCHERSYNC_SECRET_KEY": ctx.settings.secret_keys[0], "RANCHERSYNC_LOG_FORMAT": "json"}
    code = "import logging, sys; from ranchersync.cli import main; rc = main(['envs', 'list']); " \
           "logging.getLogger('x').warning('site token token-abcde:%s', 'q' * 30); sys.exit(rc)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [(r["level"], r["message"]) for r in logged] == [("warning", "site token token-abcde:[REDACTED]")]
