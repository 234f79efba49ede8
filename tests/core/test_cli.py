"""`python -m ranchersync`: the plan's JSON shapes, exit statuses, and no token anywhere in the output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from ranchersync.cli import main
from ranchersync.simulator import SimulatedRancher

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run the CLI in-process on a fresh database; returns (exit status, stdout, stderr)."""
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", Fernet.generate_key().decode())

    def run(*args: str) -> tuple[int, str, str]:
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_catalogue_round_trip_in_json(cli, rancher: SimulatedRancher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EU_TOKEN", rancher.token)
    status, out, err = cli("sites", "add", "--name", "eu", "--url", rancher.url, "--token-env", "EU_TOKEN", "--json")
    assert status == 0, err
    site = json.loads(out)
    assert set(site) >= {"id", "name", "url", "active", "createdAt", "updatedAt"}
    assert site["name"] == "eu" and site["active"] is True and site["createdAt"].endswith("Z")

    assert cli("envs", "add", "--name", "Dev", "--color", "#009e73")[0] == 0
    status, out, _ = cli("envs", "add", "--name", "Prod", "--protected", "--description", "Live", "--json")
    env = json.loads(out)
    assert (env["protected"], env["position"], env["description"]) == (True, 1, "Live")

    status, out, err = cli("instances", "add", "--name", "shop", "--site", "eu", "--cluster", "dev-eu-1",
                           "--namespace", "shop-dev", "--env", "Dev", "--json")
    assert status == 0, err
    instance = json.loads(out)
    assert {k: instance[k] for k in ("rancherSiteId", "cluster", "namespace", "environmentId")} == {
        "rancherSiteId": site["id"], "cluster": "c-m-8x2kq4vd", "namespace": "shop-dev", "environmentId": 1}

    status, out, _ = cli("instances", "list", "--env", "Dev", "--json")
    assert [i["name"] for i in json.loads(out)] == ["shop"]

    canary = ("instances", "add", "--name", "canary", "--site", "eu", "--cluster", "dev-eu-1", "--namespace",
              "shop-canary", "--env", "Dev")
    status, out, err = cli(*canary)
    assert status == 2 and "namespace 'shop-canary' does not exist on cluster 'dev-eu-1'" in err
    assert "--created-later" in err, "the refusal says how to save it anyway"
    status, out, err = cli(*canary, "--created-later")
    assert status == 0 and "does not exist on cluster 'dev-eu-1' yet" in err
    status, out, _ = cli("instances", "list", "--env", "Dev", "--json")
    assert [i["name"] for i in json.loads(out)] == ["canary", "shop"]
    status, out, _ = cli("sites", "test", "eu", "--json")
    assert status == 0 and json.loads(out)["success"] is True
    status, out, _ = cli("sites", "list", "--json")
    listed = json.loads(out)
    assert listed[0]["rancherUser"] == "Default Admin"
    everything = json.dumps(listed) + out
    assert rancher.token.split(":")[1] not in everything


def test_clusters_and_namespaces(cli, rancher: SimulatedRancher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EU_TOKEN", rancher.token)
    cli("sites", "add", "--name", "eu", "--url", rancher.url, "--token-env", "EU_TOKEN")
    status, out, _ = cli("clusters", "--site", "eu")
    assert status == 0 and "dev-eu-1" in out and "c-m-8x2kq4vd" in out
    status, out, _ = cli("namespaces", "--site", "eu", "--cluster", "dev-eu-1", "--json")
    assert "shop-dev" in [n["name"] for n in json.loads(out)]


def test_bad_input_exits_2_with_one_clear_message(cli, rancher: SimulatedRancher, monkeypatch) -> None:
    status, _, err = cli("envs", "add", "--name", "Dev", "--color", "green")
    assert status == 2 and err.strip() == "error: 'green' is not a colour: write it as #RRGGBB, e.g. #2E7D32"
    status, _, err = cli("sites", "add", "--name", "eu", "--url", rancher.url)
    assert status == 2 and "--token-env" in err
    monkeypatch.setenv("EU_TOKEN", rancher.token)
    status, _, err = cli("sites", "add", "--name", "eu", "--url", "http://rancher.example.com", "--token-env",
                         "EU_TOKEN")
    assert status == 2 and "https" in err
    status, _, err = cli("envs", "remove", "Nope")
    assert status == 2 and "no environment 'Nope'" in err
    status, out, _ = cli("envs", "list", "--json")
    assert json.loads(out) == []


def test_rancher_refusing_the_token_exits_1_and_stores_nothing(cli, rancher: SimulatedRancher, monkeypatch) -> None:
    wrong = "token-wrong:" + "x" * 54
    monkeypatch.setenv("BAD", wrong)
    status, out, err = cli("sites", "add", "--name", "eu", "--url", rancher.url, "--token-env", "BAD")
    assert status == 1 and "error:" in err
    assert "x" * 54 not in out + err
    assert json.loads(cli("sites", "list", "--json")[1]) == []


def test_token_from_standard_input(cli, rancher: SimulatedRancher, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(rancher.token + "\n"))
    status, _, err = cli("sites", "add", "--name", "eu", "--url", rancher.url, "--token-stdin")
    assert status == 0, err


def test_removing_an_environment_with_instances_needs_cascade(cli, rancher: SimulatedRancher, monkeypatch) -> None:
    monkeypatch.setenv("EU_TOKEN", rancher.token)
    cli("sites", "add", "--name", "eu", "--url", rancher.url, "--token-env", "EU_TOKEN")
    cli("envs", "add", "--name", "Dev")
    cli("instances", "add", "--name", "shop", "--site", "eu", "--cluster", "dev-eu-1", "--namespace", "shop-dev",
        "--env", "Dev")
    status, _, err = cli("envs", "remove", "Dev")
    assert status == 2 and "still has 1 app instance" in err
    status, out, _ = cli("envs", "remove", "Dev", "--cascade", "--json")
    assert status == 0 and json.loads(out)["removedAppInstances"] == ["shop"]


def test_module_entry_point_runs_as_a_process(tmp_path: Path) -> None:
    env = {"RANCHERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "RANCHERSYNC_KEY_FILE": str(tmp_path / "k"),
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "ranchersync", "envs", "list", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    usage = subprocess.run([sys.executable, "-m", "ranchersync", "envs", "add"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=False, timeout=60)
    assert usage.returncode == 2 and "--name" in usage.stderr


def test_text_output_cannot_drive_the_terminal(cli, tmp_path: Path) -> None:
    # A description with an escape sequence, a carriage return or a bidi override is refused as input; one already
    # stored (by an older version, or text Rancher sends) is printed inert in tables; --json keeps the exact value,
    # escaped by JSON itself.
    hostile = "a\x1b[2Jwiped\rover\u202eevil"
    assert cli("envs", "add", "--name", "Dev", "--description", hostile)[0] == 2
    assert cli("envs", "add", "--name", "Dev")[0] == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("UPDATE environments SET description = ?", (hostile,))
    status, out, _ = cli("envs", "list")
    assert status == 0 and "a[2Jwipedoverevil" in out
    assert not {"\x1b", "\r", "\u202e"} & set(out)
    _, out, _ = cli("envs", "list", "--json")
    assert json.loads(out)[0]["description"] == "a\x1b[2Jwiped\rover\u202eevil"
    assert "\x1b" not in out


def test_a_token_typed_at_a_terminal_is_not_echoed(tmp_path: Path) -> None:
    import os
    import pty
    import select
    import time

    token = "token-abcde:" + "s3cr3t" * 8
    primary, secondary = pty.openpty()
    env = {**os.environ, "RANCHERSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'tty.db'}",
           "RANCHERSYNC_SECRET_KEY": Fernet.generate_key().decode()}
    process = subprocess.Popen(
        [sys.executable, "-m", "ranchersync", "sites", "add", "--name", "eu", "--url", "http://127.0.0.1:9",
         "--token-stdin"], stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True,
    )
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 30
    while b"token" not in seen.lower() and time.monotonic() < deadline:  # wait for the prompt
        if select.select([primary], [], [], 0.2)[0]:
            seen += os.read(primary, 4096)
    os.write(primary, token.encode() + b"\n")
    while process.poll() is None and time.monotonic() < deadline:
        if select.select([primary], [], [], 0.2)[0]:
            try:
                seen += os.read(primary, 4096)
            except OSError:
                break
    process.wait(timeout=30)
    os.close(primary)
    assert b"not shown" in seen
    assert token.encode() not in seen and b"s3cr3t" not in seen
    assert process.returncode == 1, seen  # nothing answers on port 9: the connection test fails, clearly


@pytest.mark.parametrize("url", ["postgresql+psycopg://ops:hunter2@127.0.0.1:{port}/x?connect_timeout=2",
                                 "sqlite:////proc/no-such-folder/x.db"])
def test_a_database_that_cannot_be_used_is_a_sentence(url: str, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import closed_port_url

    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", url.format(port=closed_port_url().rsplit(":", 1)[1]))
    monkeypatch.setenv("RANCHERSYNC_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["envs", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The database could not be used: ") and "hint: Check RANCHERSYNC_DATABASE_URL" in err
    assert "hunter2" not in err and "Traceback" not in err and "[SQL" not in err
