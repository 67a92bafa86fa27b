"""The demo stack is real: real servers, real metrics, and the TUI showing live rows in a terminal."""

import asyncio
import json
import os
import signal
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from launchdeck.cli.oneshot import run_check
from launchdeck.core.config import load_config
from launchdeck.demo.stack import DemoService, DemoStack

pytestmark = pytest.mark.integration


def test_demo_config_drives_the_real_probes(tmp_path):
    with DemoStack(seed=3) as stack:
        config = load_config(stack.write_config(tmp_path))
        verdict, readings = asyncio.run(run_check(config))
    statuses = {r.target: r.status.value for r in readings if r.panel == "services"}
    assert statuses == {"web": "ok", "api": "ok", "checkout": "ok", "payments": "warn", "search": "crit"}
    traffic = {r.target for r in readings if r.panel == "traffic"}
    assert traffic == {"web", "api", "checkout", "payments"}, "every live service has a traffic row"
    assert verdict.word == "no-go"


def test_metrics_follow_the_tuned_error_ratio(tmp_path):
    with DemoStack([DemoService("api", rps=4000)], tick=0.1, seed=11) as stack:
        url = stack.base_url("api")
        assert httpx.get(f"{url}/_demo/tune?error_ratio=0.25").text == "ok\n"
        assert httpx.get(f"{url}/_demo/tune?colour=red").status_code == 400
        before = dict(stack.services["api"].requests)
        time.sleep(0.6)
        text = httpx.get(f"{url}/metrics").text
    counts = {code: float(v) for code, v in re.findall(r'http_requests_total\{code="(\d+)"[^}]*\} (\S+)', text)}
    errors = counts["500"] - before.get("500", 0)
    total = sum(counts.values()) - sum(before.values())
    assert total > 500
    assert errors / total == pytest.approx(0.25, abs=0.05)
    assert "http_request_duration_seconds_bucket" in text


def test_launchdeck_demo_shows_live_rows_in_a_real_terminal(tmux):
    launcher = Path(sys.executable).with_name("launchdeck")
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "demo",
                    f"{launcher} demo; echo LAUNCHDECK-EXITED; sleep 30"], check=True)

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "demo"], capture_output=True, text=True).stdout

    deadline = time.monotonic() + 20
    while not (re.search(r"● ok\s+web", screen()) and "connection refused" in screen()):
        assert time.monotonic() < deadline, f"no live rows within 20 s:\n{screen()}"
        time.sleep(0.1)
    text = screen()
    assert "PRODUCTION" in text and "READ-ONLY" in text and "NO-GO" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    subprocess.run([*tmux, "send-keys", "-t", "demo", "q"], check=True)
    deadline = time.monotonic() + 10
    while "LAUNCHDECK-EXITED" not in screen():
        assert time.monotonic() < deadline, f"q did not quit within 10 s:\n{screen()}"
        time.sleep(0.1)
    assert "Traceback" not in screen()


def test_a_hang_up_stops_the_demo_and_removes_what_it_made(tmux, tmp_path):
    """A dropped SSH session (SIGHUP) must not leave the demo's servers, files or processes behind."""
    launcher = Path(sys.executable).with_name("launchdeck")
    demo = subprocess.Popen([launcher, "demo", "--no-tui"], stdout=subprocess.PIPE, text=True)
    config = Path(re.search(r"config: (\S+)", demo.stdout.readline()).group(1))
    assert (config.parent / "backups").is_dir()
    demo.send_signal(signal.SIGHUP)
    demo.wait(timeout=15)
    assert demo.returncode == 0 and not config.parent.exists()

    own_tmp = tmp_path / "tmp"  # the TUI demo's temp dir lands here (TMPDIR), so we can see it go
    own_tmp.mkdir()
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "hup",
                    f"TMPDIR={own_tmp} exec {launcher} demo"], check=True)
    pid = int(subprocess.run([*tmux, "display-message", "-p", "-t", "hup", "#{pane_pid}"], capture_output=True,
                             text=True, check=True).stdout)
    deadline = time.monotonic() + 20
    while not list(own_tmp.glob("launchdeck-demo-*/launchdeck.toml")):
        assert time.monotonic() < deadline, "the TUI demo wrote no config within 20 s"
        time.sleep(0.2)
    subprocess.run([*tmux, "kill-session", "-t", "hup"], check=True)  # the terminal goes away: SIGHUP
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() or list(own_tmp.iterdir()):
        assert time.monotonic() < deadline, (f"after SIGHUP: running={Path(f'/proc/{pid}').exists()}, "
                                             f"left {list(own_tmp.iterdir())}")
        time.sleep(0.2)


def test_demo_with_a_real_prometheus_serves_traffic_through_it(tmp_path):
    launcher = Path(sys.executable).with_name("launchdeck")
    demo = subprocess.Popen([launcher, "demo", "--prometheus", "--no-tui"], stdout=subprocess.PIPE, text=True)
    try:
        config = re.search(r"config: (\S+)", demo.stdout.readline()).group(1)
        assert "source = \"prometheus\"" in Path(config).read_text()
        deadline = time.monotonic() + 40
        while True:
            result = subprocess.run([launcher, "check", "--json", "--config", config], capture_output=True,
                                    text=True, timeout=30)
            traffic = [r for r in json.loads(result.stdout)["readings"] if r["panel"] == "traffic"]
            by_name = {r["target"]: r for r in traffic}
            if traffic and all(r["rate_rps"] for r in traffic) and (by_name["checkout"]["error_ratio"] or 0) > 0:
                break
            assert time.monotonic() < deadline, f"no traffic through Prometheus within 40 s: {traffic}"
            time.sleep(1)
        assert set(by_name) == {"web", "api", "checkout", "payments"}
        assert all(isinstance(r["error_ratio"], float) and r["p95_seconds"] > 0 for r in traffic)
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=15)
    assert demo.returncode == 0


def test_sigterm_restores_the_terminal_and_removes_what_the_demo_made(tmux, tmp_path):
    """SIGTERM (kill, systemd, a supervisor) cleans up exactly like a hang-up: within 2 s the process is
    gone, the terminal has left the alternate screen with mouse tracking off, and the temp dir is gone."""
    launcher = Path(sys.executable).with_name("launchdeck")
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    # the shell stays after launchdeck ends, so the pane shows what launchdeck left the terminal in
    subprocess.run([*tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "term",
                    f"TMPDIR={own_tmp} {launcher} demo; sleep 60"], check=True)
    deadline = time.monotonic() + 20
    while not list(own_tmp.glob("launchdeck-demo-*/launchdeck.toml")):
        assert time.monotonic() < deadline, "the TUI demo wrote no config within 20 s"
        time.sleep(0.2)

    def pane(fmt: str) -> str:
        return subprocess.run([*tmux, "display-message", "-p", "-t", "term", fmt], capture_output=True,
                              text=True, check=True).stdout.strip()

    shell = int(pane("#{pane_pid}"))
    children = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()
    demo = next(int(p) for p in children if "demo" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace"))
    time.sleep(1.0)  # the dashboard is up: alternate screen and mouse tracking on
    assert pane("#{alternate_on}") == "1"
    os.kill(demo, signal.SIGTERM)
    killed = time.monotonic()
    while Path(f"/proc/{demo}").exists():
        assert time.monotonic() - killed < 2.0, "still running 2 s after SIGTERM"
        time.sleep(0.05)
    try:
        assert pane("#{alternate_on} #{mouse_any_flag} #{mouse_all_flag}") == "0 0 0"
        assert list(own_tmp.iterdir()) == []
    finally:
        subprocess.run([*tmux, "kill-session", "-t", "term"], check=False)
