"""What the `launchdeck serve` integration tests share: a loopback HTTP target that counts the
engine's requests (with a /metrics whose numbers the test decides), a small config, and the real
`launchdeck serve` as a subprocess."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.integration.conftest import free_port

TOKEN = "integration-token-7f3a9c1e5b2d4f60"


class Target:
    """A loopback service: /health answers 200 and is counted; /metrics grows 100 requests a second
    with 0.4 % 5xx and a p95 near 200 ms (ok against the default 1 % / 300 ms thresholds)."""

    def __init__(self) -> None:
        self.health_requests = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/metrics"):
                    body = target.metrics().encode()
                else:
                    with target._lock:
                        target.health_requests += 1
                    body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # quiet: the test reads counts, not logs
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        with self._lock:
            return self.health_requests

    def metrics(self) -> str:
        total = (time.monotonic() - self.started) * 100 + 1000
        errors = total * 0.004
        lines = ["# TYPE http_requests_total counter",
                 f'http_requests_total{{code="200"}} {total - errors:.3f}',
                 f'http_requests_total{{code="500"}} {errors:.3f}',
                 "# TYPE http_request_duration_seconds histogram"]
        for le, share in (("0.1", 0.80), ("0.25", 0.97), ("0.5", 0.995), ("+Inf", 1.0)):
            lines.append(f'http_request_duration_seconds_bucket{{le="{le}"}} {total * share:.3f}')
        lines += [f"http_request_duration_seconds_count {total:.3f}", f"http_request_duration_seconds_sum {total * 0.08:.3f}"]
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(directory: Path, target: Target, second: Target | None = None, checklists: bool = True) -> Path:
    """Services polled every second, traffic scraped from the target's /metrics, the packaged checklists."""
    text = f"""
[deck]
name = "shop <b>launch</b>"
environment = "production"
refresh = "1s"

[[services]]
name = "api"
url = "{target.url}/health"
interval = "1s"
timeout = "1s"

[[services]]
name = "payments"
url = "{(second or target).url}/payments/health"
interval = "1s"
timeout = "1s"

[[traffic]]
name = "checkout"
source = "scrape"
scrape_url = "{target.url}/metrics"
interval = "1s"
window = "30s"
"""
    if checklists:
        text += f'\n[checklists]\nledger = "{directory / "launch-signoff.jsonl"}"\n'
    path = directory / "launchdeck.toml"
    path.write_text(text)
    return path


class Served:
    """`launchdeck serve` as people run it: a subprocess, its URL read from what it prints."""

    def __init__(self, config: Path, *extra: str, token: str = TOKEN, env: dict | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        args = [sys.executable, "-m", "launchdeck", "serve", "--config", str(config), "--port", str(self.port)]
        if token:
            args += ["--token", token]
        self.process = subprocess.Popen([*args, *extra], cwd=config.parent, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, "NO_COLOR": "1", **(env or {})})
        self.printed: list[str] = []
        deadline = time.monotonic() + 30
        self.url = ""
        while not self.url:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"launchdeck serve ended: {self.process.wait(5)} {self.process.stderr.read()}")
            self.printed.append(line)
            if line.startswith("open: "):
                self.url = line.removeprefix("open: ").strip()
            assert time.monotonic() < deadline, "launchdeck serve printed no URL in 30 s"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, headers: dict | None = None, method: str = "GET") -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(method, path, headers=headers or {})
        return connection.getresponse()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> tuple[str, str]:
        """SIGTERM (SIGCONT first, in case a test left it stopped); its stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        return "".join(self.printed) + out, err


class EventStream(threading.Thread):
    """One viewer without a browser: reads the event stream and counts its `wall` events."""

    def __init__(self, served: Served, token: str = TOKEN) -> None:
        super().__init__(daemon=True)
        self.connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
        self.connection.request("GET", f"/events?token={token}")
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.events = 0
        self.closing = False
        self.ended = threading.Event()

    def run(self) -> None:
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                if line.startswith(b"event: wall"):
                    self.events += 1
                elif line.startswith(b"event: closing"):
                    self.closing = True
        except OSError:  # hung up by the test: this viewer is done
            return
        finally:
            self.connection.close()
            self.ended.set()

    def close(self) -> None:
        """Hang up: the reading thread sees the end of the stream and closes the connection itself."""
        sock = self.connection.sock
        if sock is None:
            return
        with contextlib.suppress(OSError):  # already gone: nothing to hang up
            sock.shutdown(socket.SHUT_RDWR)
        if not self.is_alive():
            self.connection.close()
