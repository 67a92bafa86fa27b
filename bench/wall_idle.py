"""What the wall costs while it runs for hours: terminal bytes per second and CPU share, beside the
dashboard on the same demo stack (DESIGN rule 7: cheap when idle, bytes over SSH).

Starts `launchdeck demo --no-tui`, then each view on a pty of its own (120x40 and 200x60), lets it
settle, and counts the bytes it writes and the CPU time it uses over a window. The load average is
recorded with each run: this VM is shared. Writes bench/results/wall_idle.json.

    .venv/bin/python bench/wall_idle.py [--settle 20] [--window 30]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAUNCHDECK = str(ROOT / ".venv" / "bin" / "launchdeck")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_view(argv: list[str], size: tuple[int, int], settle: float, window: float) -> dict:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(size[0]), LINES=str(size[1]))
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)

    def drain(seconds: float) -> int:
        total, end = 0, time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if ready:
                try:
                    total += len(os.read(master, 65536))
                except OSError:
                    break
        return total

    drain(settle)
    cpu0, load0 = cpu_seconds(child.pid), os.getloadavg()[0]
    written = drain(window)
    cpu1 = cpu_seconds(child.pid)
    os.write(master, b"q")
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(5)
    os.close(master)
    return {"bytes_per_s": round(written / window, 1), "cpu_percent": round(100 * (cpu1 - cpu0) / window, 2),
            "load_average_1m": round(load0, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=30.0)
    args = parser.parse_args()
    demo = subprocess.Popen([LAUNCHDECK, "demo", "--no-tui"], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = demo.stdout.readline()
        config = line.rsplit("config: ", 1)[1].strip()
        results = []
        for size in ((120, 40), (200, 60)):
            for name, argv in (("wall", [LAUNCHDECK, "wall", "--config", config]),
                               ("dashboard", [LAUNCHDECK, "--config", config])):
                result = {"view": name, "size": f"{size[0]}x{size[1]}", **run_view(argv, size, args.settle, args.window)}
                results.append(result)
                print(f"{name:10} {result['size']:8} {result['bytes_per_s']:>9} B/s {result['cpu_percent']:>6} % CPU"
                      f"   load {result['load_average_1m']}", flush=True)
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(10)
    out = ROOT / "bench" / "results" / "wall_idle.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"settle_s": args.settle, "window_s": args.window, "runs": results}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
