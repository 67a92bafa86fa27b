"""`launchdeck check` end to end against real loopback HTTP servers: healthy, failing, hanging."""

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.integration


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        code = 500 if self.path.startswith("/broken") else 200
        body = b'{"status":"healthy"}' if code == 200 else b"boom"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def hanging_ports():
    """Listening sockets that never accept: the TCP handshake completes, no answer ever comes."""
    sockets = []
    for _ in range(3):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sockets.append(sock)
    yield [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthy_500_and_hanging_endpoints(tmp_path, http_server, hanging_ports):
    services = [("healthy", f"{http_server}/health", "2s"), ("broken", f"{http_server}/broken", "2s"),
                ("refused", f"http://127.0.0.1:{_refused_port()}/health", "2s")]
    services += [(f"hanging{i}", f"http://127.0.0.1:{port}/health", "1s") for i, port in enumerate(hanging_ports)]
    config = tmp_path / "launchdeck.toml"
    config.write_text('[deck]\nname = "t"\n' + "".join(
        f'[[services]]\nname = "{n}"\nurl = "{u}"\ntimeout = "{t}"\n' for n, u, t in services))

    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "launchdeck", "check", "--json", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - started

    assert result.returncode == 2, result.stderr
    document = json.loads(result.stdout)
    readings = {r["target"]: r for r in document["readings"]}
    assert readings["healthy"]["status"] == "ok" and readings["healthy"]["http_status"] == 200
    assert readings["healthy"]["latency_seconds"] < 1
    assert readings["broken"]["status"] == "crit" and readings["broken"]["reason"] == "HTTP 500, expected 200"
    assert readings["refused"]["status"] == "crit" and readings["refused"]["reason"] == "connection refused"
    for i in range(3):
        hanging = readings[f"hanging{i}"]
        assert hanging["status"] == "unknown" and hanging["reason"] == "timeout after 1s"
        assert 0.95 <= hanging["duration_seconds"] < 1.5
    assert document["verdict"] == "no-go"
    # three 1 s hangs in parallel: about 1 s of probing, not 3 s (interpreter start-up is the rest)
    assert elapsed < 2.8, f"check took {elapsed:.2f}s"


def test_table_output_and_warn_exit_code(tmp_path, http_server):
    config = tmp_path / "launchdeck.toml"
    config.write_text(f'[deck]\nname = "t"\n[[services]]\nname = "slowish"\nurl = "{http_server}/health"\n'
                      'latency_warn = "0ms"\nlatency_crit = "10s"\n')
    result = subprocess.run([sys.executable, "-m", "launchdeck", "check", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "slowish" in result.stdout and "warn" in result.stdout and "verdict: CAUTION" in result.stdout


def test_secret_header_never_reaches_the_output(tmp_path, hanging_ports):
    config = tmp_path / "launchdeck.toml"
    config.write_text('[[services]]\nname = "s"\nurl = "http://user:${PW}@127.0.0.1:%d/health?token=${PW}"\n'
                      'timeout = "300ms"\nheaders = { Authorization = "Bearer ${PW}" }\n' % hanging_ports[0])
    env = {"PW": "pa55-w0rd-xyz", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "launchdeck", "check", "--json", "--config", str(config)],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 2
    assert "pa55-w0rd-xyz" not in result.stdout + result.stderr
    assert json.loads(result.stdout)["readings"][0]["status"] == "unknown"
