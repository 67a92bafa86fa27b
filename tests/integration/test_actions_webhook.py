"""The [notify] webhook received by a real loopback HTTP server, and the deploy's watch window judged by
the engine against a real loopback service: passed (exit 0), breached (exit 1, recorded), and a
webhook that fails never blocks the action."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from launchdeck.audit.ledger import Ledger
from launchdeck.cli.act import act

from .conftest import free_port

pytestmark = pytest.mark.integration


class Recorder(BaseHTTPRequestHandler):
    received: list = []  # noqa: RUF012 - each test's handler class gets its own
    health_status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self) -> None:
        self.send_response(type(self).health_status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    handler = type("Handler", (Recorder,), {"received": [], "health_status": 200})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, handler
    httpd.shutdown()
    httpd.server_close()


def write_config(tmp_path: Path, port: int, watch: str = "0s", webhook_port: int | None = None) -> Path:
    path = tmp_path / "launchdeck.toml"
    path.write_text(f'''[deck]
name = "shop"
environment = "staging"
[[services]]
name = "web"
url = "http://127.0.0.1:{port}/health"
interval = "200ms"
[actions]
enabled = true
[actions.deploy]
argv = ["echo", "deploying", "{{version}}"]
params = {{ version = '^v[0-9]+$' }}
watch = "{watch}"
[notify]
webhook = "http://127.0.0.1:{webhook_port or port}/services/T0/B0/secret-token"
timeout = "2s"
''')
    return path


def test_the_webhook_receives_start_and_finish_with_the_result(server, tmp_path: Path):
    httpd, handler = server
    config = write_config(tmp_path, httpd.server_address[1])
    result = CliRunner().invoke(act, ["deploy", "--config", str(config), "--param", "version=v3", "--confirm", "staging"])
    assert result.exit_code == 0, result.output
    assert len(handler.received) == 2
    (path, ctype, start), (_, _, finish) = handler.received
    assert path == "/services/T0/B0/secret-token" and ctype == "application/json"
    assert start["launchdeck"]["event"] == "start" and "deploy version=v3 started" in start["text"]
    assert finish["launchdeck"]["event"] == "finish" and finish["launchdeck"]["outcome"] == "done"
    assert finish["launchdeck"]["exit_code"] == 0 and finish["launchdeck"]["params"] == {"version": "v3"}
    assert "shop (staging)" in finish["text"]


def test_a_failed_webhook_is_reported_and_does_not_block(server, tmp_path: Path):
    httpd, _handler = server
    config = write_config(tmp_path, httpd.server_address[1], webhook_port=free_port())  # nobody listens
    result = CliRunner().invoke(act, ["deploy", "--config", str(config), "--param", "version=v3", "--confirm", "staging"])
    assert result.exit_code == 0
    assert "warning: webhook http://127.0.0.1:" in result.output and "secret-token" not in result.output


def test_the_watch_window_passes_and_only_then_is_done(server, tmp_path: Path):
    httpd, _handler = server
    config = write_config(tmp_path, httpd.server_address[1], watch="2s")
    result = CliRunner().invoke(act, ["deploy", "--config", str(config), "--param", "version=v3", "--confirm", "staging"])
    assert result.exit_code == 0, result.output
    assert "watch window passed (2s)" in result.output
    finish = [r.evidence for r in Ledger(tmp_path / "launch-signoff.jsonl").records()][-1]
    assert finish["outcome"] == "done" and finish["watch"]["passed"] and finish["watch"]["seconds"] >= 2
    assert finish["watch"]["watched"] == ["services web"]


def test_a_breach_ends_with_exit_1_and_says_what_breached(server, tmp_path: Path):
    httpd, handler = server
    handler.health_status = 500
    config = write_config(tmp_path, httpd.server_address[1], watch="30s")
    result = CliRunner().invoke(act, ["deploy", "--config", str(config), "--param", "version=v3", "--confirm", "staging"])
    assert result.exit_code == 1, result.output
    finish = [r.evidence for r in Ledger(tmp_path / "launch-signoff.jsonl").records()][-1]
    assert finish["outcome"] == "breached" and finish["watch"]["seconds"] < 30
    assert finish["watch"]["breach"].startswith("services web:") and "500" in finish["watch"]["breach"]
    assert handler.received[-1][2]["launchdeck"]["outcome"] == "breached"
    # a breached deploy is not a good version: rollback has nothing to go back to yet
    from launchdeck.actions.record import deployed_versions

    assert deployed_versions(Ledger(tmp_path / "launch-signoff.jsonl").records()) == ("v3", None)


def test_auto_rollback_goes_back_to_the_previous_good_version_by_itself(server, tmp_path: Path):
    httpd, handler = server
    marker = tmp_path / "rolled-back-to"
    config = write_config(tmp_path, httpd.server_address[1], watch="3s")
    config.write_text(config.read_text().replace('watch = "3s"', 'watch = "3s"\nauto_rollback = true') + f'''
[actions.rollback]
confirm = "yes"
argv = ["sh", "-c", "printf %s \\"$1\\" > {marker}", "rollback", "{{version}}"]
''')
    args = ["deploy", "--config", str(config), "--confirm", "staging", "--param"]
    assert CliRunner().invoke(act, [*args, "version=v1"]).exit_code == 0
    handler.health_status = 503
    result = CliRunner().invoke(act, [*args, "version=v2"])
    assert result.exit_code == 1, result.output
    assert marker.read_text() == "v1" and "automatic rollback to v1: done" in result.output
    finishes = [r.evidence for r in Ledger(tmp_path / "launch-signoff.jsonl").records() if r.evidence.get("event") == "finish"]
    assert [(f["action"], f["outcome"]) for f in finishes] == [("deploy", "done"), ("deploy", "breached"),
                                                               ("rollback", "done")]
