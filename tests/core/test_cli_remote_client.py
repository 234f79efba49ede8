"""The remote CLI's client alone, against a stand-in server on 127.0.0.1: problem details become the local exit
codes, commands the API does not cover are refused, and the token never shows in output or errors.
(tests/core/test_cli_remote.py compares it with the local CLI against the real API server.)"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ranchersync.cli import main

SECRET = "rsm_0123456789abcdef_" + "s" * 43


class StandIn(BaseHTTPRequestHandler):
    """Answers each path with what `answers` holds: (status, content type, body)."""

    answers: dict[str, tuple[int, str, Any]] = {}
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def _answer(self) -> None:
        type(self).seen.append({"path": self.path, **dict(self.headers)})
        status, kind, body = self.answers.get(self.path.split("?")[0], (404, "application/problem+json", {
            "type": "about:blank", "title": "Not found", "status": 404, "detail": "no such path",
            "kind": "not_found"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[StandIn]]:
    handler = type("Handler", (StandIn,), {"answers": {}, "seen": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("RANCHERSYNC_SERVER", f"http://127.0.0.1:{httpd.server_address[1]}")
    monkeypatch.setenv("RANCHERSYNC_API_TOKEN", SECRET)
    monkeypatch.setenv("RANCHERSYNC_DATABASE_URL", "sqlite:////nonexistent/never-opened.db")
    yield handler
    httpd.shutdown()
    httpd.server_close()


def problem(status: int, kind: str, detail: str, hint: str = "") -> tuple[int, str, dict[str, Any]]:
    return status, "application/problem+json", {"type": "about:blank", "title": "t", "status": status,
                                                "detail": detail, "kind": kind, "hint": hint}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert SECRET not in out and SECRET not in err
    return status, out, err


def test_a_covered_command_calls_the_api_with_the_token_and_prints_like_the_local_one(
    server: type[StandIn], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"id": 1, "name": "Stage", "description": "", "color": "#123456", "position": 1, "protected": False}
    server.answers["/api/v1/environments"] = (200, "application/json", [env])
    status, out, _ = run(capsys, "envs", "list")
    assert status == 0 and out.split("\n")[1].split() == ["1", "1", "Stage", "#123456", "no"]
    assert json.loads(run(capsys, "envs", "list", "--json")[1]) == [env]
    assert server.seen[0]["Authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(("status", "kind", "exit_code"), [
    (404, "not_found", 2), (422, "validation", 2), (401, "unauthenticated", 3), (403, "permission_denied", 3),
    (409, "busy", 3), (423, "frozen", 3), (429, "too_many_calls", 3), (502, "rancher_error", 1),
    (500, "something_new", 1),
])
def test_problems_exit_as_their_local_errors(server: type[StandIn], capsys: pytest.CaptureFixture[str],
                                             status: int, kind: str, exit_code: int) -> None:
    server.answers["/api/v1/operations/7"] = problem(status, kind, f"the detail of {kind}", hint="do this")
    code, out, err = run(capsys, "history", "show", "7")
    assert (code, out) == (exit_code, "")
    assert f"error: the detail of {kind}" in err and "hint: do this" in err


def test_the_exit_code_the_server_states_wins(server: type[StandIn], capsys: pytest.CaptureFixture[str]) -> None:
    status, kind, body = problem(422, "nothing_to_sync", "nothing to change: every selected service is skipped")
    server.answers["/api/v1/operations/8"] = (status, kind, {**body, "exitCode": 1})
    assert run(capsys, "history", "show", "8")[0] == 1  # 422 alone would say bad input (2)


def test_commands_the_api_does_not_cover_are_refused(server: type[StandIn],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "sites", "list")
    assert status == 2 and "is not available through RANCHERSYNC_SERVER; run it where the database is" in err
    status, _, err = run(capsys, "services", "compare", "--env", "A", "--env", "B", "--digests")
    assert status == 2 and "--digests is not available through RANCHERSYNC_SERVER" in err
    assert server.seen == []  # refused before any call


def test_without_a_token_nothing_is_sent(server: type[StandIn], capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANCHERSYNC_API_TOKEN")
    status, _, err = run(capsys, "envs", "list")
    assert status == 2 and "RANCHERSYNC_API_TOKEN" in err and server.seen == []


def test_an_unreachable_server_fails_without_showing_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import closed_port_url

    monkeypatch.setenv("RANCHERSYNC_SERVER", closed_port_url())
    monkeypatch.setenv("RANCHERSYNC_API_TOKEN", SECRET)
    status, _, err = run(capsys, "history", "--json")
    assert status == 1 and "did not answer" in err


def test_an_answer_that_is_not_the_api_is_a_failure(server: type[StandIn],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    server.answers["/api/v1/history"] = (302, "text/html", "")
    status, _, err = run(capsys, "history")
    assert status == 1 and "without the API's JSON" in err
