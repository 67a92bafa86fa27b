"""A real Prometheus for `launchdeck demo --prometheus`: the Debian binary, a temp config, loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx

STOP_GRACE = 1.0  # s Prometheus gets to shut down after SIGTERM (measured: 16 ms on a demo's TSDB)


class DemoPrometheus:
    """Scrapes the demo stack every second; stopped (by its own pid) with `stop()`."""

    def __init__(self, targets: dict[str, str], workdir: Path) -> None:
        self.targets = targets
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.url = ""

    @staticmethod
    def available() -> bool:
        return shutil.which("prometheus") is not None

    def start(self, ready_within: float = 20.0) -> str:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("no `prometheus` binary on PATH (Debian: apt-get install prometheus)")
        jobs = "".join(f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
                       for job, target in self.targets.items())
        config = self.workdir / "prometheus.yml"
        config.write_text(f"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{jobs}")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = (self.workdir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited ({self.process.returncode}); see {self.workdir / 'prometheus.log'}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=0.5).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready within {ready_within:.0f}s; see {self.workdir / 'prometheus.log'}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_GRACE: a stop signal or a vanished terminal must leave no
        Prometheus behind within 2 s, and the temp dir holding its TSDB is removed right after."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
