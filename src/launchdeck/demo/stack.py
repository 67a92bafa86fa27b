"""Real loopback HTTP services with /health and /metrics and simulated traffic, for `launchdeck demo`.

Each service is a ThreadingHTTPServer with its own prometheus_client registry. One ticker thread
records synthetic requests (error ratio and p95 tunable live) so /metrics moves like production.
One service is down on purpose: its port was reserved and released, so connecting is refused.
With a `release_file` (`launchdeck demo --allow-actions`), the ticker follows the release that
demo/deploy.py writes there: deploying v2 really raises checkout's 5xx ratio, a rollback lowers it.
"""

from __future__ import annotations

import json
import math
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIGMA = 0.5  # lognormal spread of simulated latency; p95 = median * exp(1.645 * sigma)


@dataclass
class DemoService:
    """One simulated service. Tunables may be changed while it runs (`DemoStack.tune`)."""

    name: str
    error_ratio: float = 0.004
    p95_ms: float = 120.0
    rps: float = 40.0
    health_delay_ms: float = 3.0
    down: bool = False
    version: str = "1.4.2"
    port: int = 0
    requests: dict[str, int] = field(default_factory=dict)  # status code -> count, for tests


def default_services() -> list[DemoService]:
    return [
        DemoService("web", p95_ms=80),
        DemoService("api"),
        DemoService("checkout", error_ratio=0.02, p95_ms=260),
        DemoService("payments", health_delay_ms=650),
        DemoService("search", down=True),
    ]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the client hung up mid-answer (a probe timed out or quit): normal, not a fault
        super().handle_error(request, client_address)


class _Metrics:
    def __init__(self, name: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "Requests served", ["code", "method", "handler"],
                                registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "Request latency", ["handler"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.name = name


class DemoStack:
    """Start with `start()`, stop with `stop()`; URLs are known once started."""

    def __init__(self, services: list[DemoService] | None = None, tick: float = 0.25, seed: int | None = None,
                 release_file: Path | None = None) -> None:
        self.services = {s.name: s for s in (services if services is not None else default_services())}
        self._tick = tick
        self._rng = random.Random(seed)
        self._servers: list[_Server] = []
        self._metrics: dict[str, _Metrics] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.release_file = release_file
        self._release_seen: tuple[int, int] | None = None  # (mtime_ns, inode) of the file last applied
        self._baseline: dict[str, dict[str, float | str]] = {}

    # -- lifecycle
    def start(self) -> DemoStack:
        self._baseline = {s.name: {"error_ratio": s.error_ratio, "p95_ms": s.p95_ms, "rps": s.rps,
                                   "version": s.version} for s in self.services.values()}
        for service in self.services.values():
            if service.down:
                service.port = _reserve_port()
                continue
            metrics = self._metrics[service.name] = _Metrics(service.name)
            server = _Server(("127.0.0.1", 0), _handler_for(self, service, metrics))
            service.port = server.server_address[1]
            self._servers.append(server)
            self._spawn(server.serve_forever, f"demo-{service.name}")
        self._spawn(self._simulate, "demo-traffic")
        return self

    def stop(self) -> None:
        self._stop.set()
        # shutdown() waits up to serve_forever's 0.5 s poll; ask every server at once, not in turn
        stoppers = [threading.Thread(target=server.shutdown, daemon=True) for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=2)
        for server in self._servers:
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- addresses and tuning
    def base_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.services[name].port}"

    def tune(self, name: str, **changes: float | bool | str) -> None:
        with self._lock:
            service = self.services[name]
            for key, value in changes.items():
                if key not in {"error_ratio", "p95_ms", "rps", "health_delay_ms", "version"}:
                    raise ValueError(f"cannot tune {key!r}")
                setattr(service, key, type(getattr(service, key))(value))

    def config_text(self, deck_name: str = "demo-shop", prometheus_url: str | None = None,
                    backups_dir: Path | None = None, actions: list[str] | None = None,
                    docker: bool | None = None) -> str:
        """A config for this stack. Traffic is read from each service's /metrics directly, or from a
        real Prometheus scraping them when `prometheus_url` is given (`launchdeck demo --prometheus`).
        `actions` (demo/actions.py's lines) also shortens the traffic window and the error ratio's
        sustain, so a deploy's 20 s watch window can see a breach and the rows recover in seconds.
        `docker`: watch this machine's Docker Engine too (None: when its socket answers a ping)."""
        lines = [
            "# Written by `launchdeck demo`: every URL below is a real server on loopback.",
            "[deck]", f'name = "{deck_name}"', 'environment = "production"', 'refresh = "2s"', "",
        ]
        for service in self.services.values():
            lines += ["[[services]]", f'name = "{service.name}"', f'url = "{self.base_url(service.name)}/health"',
                      'timeout = "2s"', ""]
        if prometheus_url:
            lines += ["[prometheus]", f'url = "{prometheus_url}"', ""]
        for service in self.services.values():
            if service.down:
                continue
            lines += ["[[traffic]]", f'name = "{service.name}"', 'window = "1m"' if actions is None else
                      'window = "15s"\nerror_ratio_for = "5s"']
            if prometheus_url:
                lines += ['source = "prometheus"', f'job = "{service.name}"', ""]
            else:
                lines += ['source = "scrape"', f'scrape_url = "{self.base_url(service.name)}/metrics"', ""]
        if docker if docker is not None else docker_answers():
            lines += ["# this machine's Docker Engine answered a ping, so its containers are shown too",
                      "[[containers]]", 'host = "local"', ""]
        if backups_dir is not None:
            from launchdeck.demo.backups import config_lines

            lines += config_lines(backups_dir)
        lines += ["# the packaged default checklists; sign-offs go to a ledger beside this file",
                  "[checklists]", 'ledger = "launch-signoff.jsonl"', ""]
        lines += actions or []
        return "\n".join(lines)

    def write_config(self, directory: Path, prometheus_url: str | None = None, allow_actions: bool = False) -> Path:
        """The config and the dumps; with `allow_actions`, also the release file this stack follows, the
        shop's database and an [actions] section whose commands change them (demo/actions.py)."""
        from launchdeck.demo.backups import make_backups

        path = directory / "launchdeck.toml"
        folder = make_backups(directory)
        actions = None
        if allow_actions:
            from launchdeck.demo.actions import prepare

            self.release_file, actions = prepare(directory, folder)
        path.write_text(self.config_text(prometheus_url=prometheus_url, backups_dir=folder, actions=actions),
                        encoding="utf-8")
        return path

    def scrape_targets(self) -> dict[str, str]:
        """job name -> host:port, for a Prometheus that scrapes this stack."""
        return {s.name: f"127.0.0.1:{s.port}" for s in self.services.values() if not s.down}

    # -- traffic
    def _simulate(self) -> None:
        while not self._stop.wait(self._tick):
            if self.release_file is not None:
                self._follow_release(self.release_file)
            with self._lock:
                live = [s for s in self.services.values() if not s.down]
                plans = [(s, self._requests_this_tick(s.rps), s.error_ratio, s.p95_ms) for s in live]
            for service, count, error_ratio, p95_ms in plans:
                self._record(service, count, error_ratio, p95_ms)

    def _follow_release(self, path: Path) -> None:
        """Apply the release named in the file when it changed: each service back to its start-up
        values, then the release's own (demo/deploy.py's RELEASES); its /health reports the version."""
        from launchdeck.demo.deploy import RELEASES, read_version

        try:
            info = path.stat()
        except OSError:
            return
        seen = (info.st_mtime_ns, info.st_ino)
        if seen == self._release_seen:
            return
        version = read_version(path)
        if version is None:
            return
        self._release_seen = seen
        for name in self.services:
            self.tune(name, **{**self._baseline[name], **RELEASES[version].get(name, {}), "version": version})

    def _requests_this_tick(self, rps: float) -> int:
        mean = rps * self._tick
        return max(0, round(self._rng.gauss(mean, math.sqrt(mean)))) if mean > 0 else 0

    def _record(self, service: DemoService, count: int, error_ratio: float, p95_ms: float) -> None:
        metrics = self._metrics[service.name]
        median = (p95_ms / 1000.0) / math.exp(1.645 * _SIGMA)
        for _ in range(count):
            code = "500" if self._rng.random() < error_ratio else "200"
            metrics.requests.labels(code=code, method="GET", handler="/api").inc()
            metrics.latency.labels(handler="/api").observe(self._rng.lognormvariate(math.log(median), _SIGMA))
            service.requests[code] = service.requests.get(code, 0) + 1


DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_PING_SECONDS = 0.3


def docker_answers(path: str = DOCKER_SOCKET, timeout: float = DOCKER_PING_SECONDS) -> bool:
    """True when a Docker Engine answers `GET /_ping` on its Unix socket within `timeout`: the demo
    then shows this machine's containers; otherwise the Containers panel is one line saying what to add."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(64)
    except OSError:  # no socket, no permission, refused, timed out: no engine for the demo
        return False
    return answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n", 1)[0] + b" "


def _reserve_port() -> int:
    """A port that nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _handler_for(stack: DemoStack, service: DemoService, metrics: _Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            if url.path == "/health":
                time.sleep(service.health_delay_ms / 1000.0)
                self._send(200, "application/json",
                           json.dumps({"status": "healthy", "service": service.name, "version": service.version}))
            elif url.path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry).decode())
            elif url.path == "/_demo/tune":
                changes = {k: v[-1] for k, v in parse_qs(url.query).items()}
                try:
                    stack.tune(service.name, **changes)
                except (ValueError, TypeError) as error:
                    self._send(400, "text/plain", f"{error}\n")
                    return
                self._send(200, "text/plain", "ok\n")
            else:
                self._send(404, "text/plain", "not found\n")

        def _send(self, code: int, content_type: str, body: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # keep the TUI's terminal clean
            return

    return Handler
