"""Start-up and idle cost of the dashboard in a real terminal, side by side with glances.

Start-up: time from launching `launchdeck demo` in tmux until the first live service row is on
screen (and until the first paint at all). Idle: the dashboard alone (the demo stack runs in a
separate process) at a 2 s refresh vs glances at its 2 s default, both at 80x24 and 120x40:
CPU of the process (utime+stime from /proc) and bytes written to the terminal (tmux pipe-pane).

Writes bench/results/tui_cost.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP = 65.0  # s: the demo's traffic windows are 1m; before they fill, every rate climbs every poll
LIVE_ROW = re.compile(r"● ok\s+\w+")


class Tmux:
    def __init__(self) -> None:
        self.base = ["tmux", "-L", f"ld-bench-{uuid.uuid4().hex[:8]}"]

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True).stdout

    def start(self, name: str, command: str, size: tuple[int, int]) -> int:
        self.run("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), f"exec {command}")
        return int(self.run("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name)

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (children not counted)


def measure_startup(runs: int) -> dict:
    first_paint, first_row = [], []
    for _ in range(runs):
        tmux = Tmux()
        try:
            started = time.monotonic()
            tmux.start("s", f"{BIN / 'launchdeck'} demo", (80, 24))
            painted = None
            while time.monotonic() - started < 30:
                text = tmux.screen("s")
                if painted is None and "launchdeck" in text:
                    painted = time.monotonic() - started
                if LIVE_ROW.search(text):
                    first_row.append(time.monotonic() - started)
                    first_paint.append(painted if painted is not None else first_row[-1])
                    break
                time.sleep(0.01)
            else:
                raise SystemExit("no live row within 30 s")
        finally:
            tmux.kill()
    return {"runs": runs, "first_paint_s": _stats(first_paint), "first_live_row_s": _stats(first_row)}


def measure_idle(name: str, command: str, size: tuple[int, int], settle: float, window: float) -> dict:
    tmux = Tmux()
    log = Path(tempfile.mkstemp(prefix="ld-bench-", suffix=".out")[1])
    try:
        pid = tmux.start("s", command, size)
        time.sleep(settle)
        tmux.run("pipe-pane", "-o", "-t", "s", f"cat >> {log}")
        bytes0, cpu0, t0 = log.stat().st_size, cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        bytes1, cpu1, t1 = log.stat().st_size, cpu_seconds(pid), time.monotonic()
        elapsed = t1 - t0
        return {"tool": name, "size": f"{size[0]}x{size[1]}", "window_s": round(elapsed, 1),
                "cpu_percent_of_core": round(100 * (cpu1 - cpu0) / elapsed, 2),
                "terminal_bytes_per_s": round((bytes1 - bytes0) / elapsed, 1)}
    finally:
        tmux.kill()
        log.unlink(missing_ok=True)


PROBES_ONLY = """
import asyncio, resource, sys, time
from pathlib import Path
from launchdeck.core.config import load_config
from launchdeck.engine.polling import poll_forever
from launchdeck.probes import build_probes

async def main(window):
    tasks = [asyncio.create_task(poll_forever(p, lambda r: None)) for p in build_probes(load_config(Path(sys.argv[1])))]
    await asyncio.sleep(5)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    await asyncio.sleep(window)
    r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    print((r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (t1 - t0))
    for task in tasks:
        task.cancel()

asyncio.run(main(float(sys.argv[2])))
"""


def measure_probes_only(config: str, window: float) -> dict:
    """The same config's probes polling with no screen at all: how much of the CPU is the polling."""
    out = subprocess.run([sys.executable, "-c", PROBES_ONLY, config, str(window)], capture_output=True, text=True,
                         check=True, timeout=window + 60).stdout
    return {"tool": "probes only", "size": "-", "window_s": window,
            "cpu_percent_of_core": round(100 * float(out.strip().splitlines()[-1]), 2), "terminal_bytes_per_s": 0.0}


def _stats(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--window", type=float, default=30.0, help="idle measurement window, seconds")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is required: scripts/services.sh up installs it")

    result = {"startup": measure_startup(args.runs), "idle": []}
    stack = subprocess.Popen([BIN / "launchdeck", "demo", "--no-tui"], stdout=subprocess.PIPE, text=True)
    try:
        config = re.search(r"config: (\S+)", stack.stdout.readline()).group(1)
        time.sleep(WARM_UP)  # idle means steady state: the demo's 1m rate windows full, as after hours of running
        tools = [("launchdeck", f"{BIN / 'launchdeck'} --config {config}")]
        glances = shutil.which("glances", path=str(BIN)) or shutil.which("glances")
        if glances:
            tools.append(("glances", f"{glances} -t 2 --disable-webui"))
        for size in ((80, 24), (120, 40)):
            for name, command in tools:
                result["idle"].append(measure_idle(name, command, size, settle=5, window=args.window))
        result["idle"].append(measure_probes_only(config, args.window))
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=10)

    out = HERE / "results" / "tui_cost.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["startup"]
    print(f"start-up over {s['runs']} runs (launchdeck demo in tmux, 80x24):")
    print(f"  first paint     median {s['first_paint_s']['median']:.3f}s  max {s['first_paint_s']['max']:.3f}s")
    print(f"  first live row  median {s['first_live_row_s']['median']:.3f}s  max {s['first_live_row_s']['max']:.3f}s")
    print(f"\nidle, {args.window:.0f}s window, 2 s refresh   CPU % of a core   terminal bytes/s")
    for row in result["idle"]:
        print(f"  {row['tool']:<11} {row['size']:<8} {row['cpu_percent_of_core']:>16.2f} {row['terminal_bytes_per_s']:>18.1f}")
    print(f"\nwritten to {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
