"""Start-up of the dashboard on a pty of its own: when the first full frame is on screen (header,
verdict line, every panel's frame, every configured target listed), when the first live row lands
and when every target has its first reading; measured from just before exec.

A reader thread dates every chunk the dashboard writes; the screen (a pyte emulator) is replayed
chunk by chunk on the main thread at nice 19, so the moment a frame is complete is the time of the
chunk that completed it, however far behind the emulator runs, and the observer takes little CPU
from the dashboard under test. Also: `python -X importtime` of what the dashboard imports before
its first paint, and the wall time of that import.

    .venv/bin/python bench/startup.py --config FILE [--runs 5] [--size 120x40] [--src DIR]

--src runs another source tree (e.g. the session's start commit exported with git archive) with
the same interpreter: before and after in one run. Used by bench/tui_cost.py; alone it prints a table.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")
PANELS = ("Services", "Traffic", "Containers", "Backups")
ROW = re.compile(r"(ok|warn|crit|unknown|wait)\s+(\S+)")
LIVE = ("ok", "warn", "crit", "unknown")
VERDICT = re.compile(r"\b(GO|NO-GO|waiting for the first readings)\b")  # widgets/verdict.py
IMPORTS = "import launchdeck.cli, launchdeck.tui.app"


def environment(src: str | None) -> dict[str, str]:
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    env.pop("TEXTUAL", None)
    if src:
        env["PYTHONPATH"] = src  # ahead of the editable install's path hook
    return env


def targets_of(config: Path) -> dict[str, list[str]]:
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    return {panel: [entry["name"] for entry in data.get(panel, [])] for panel in ("services", "traffic", "backups")}


class Run:
    """One launch: chunks dated by a reader thread, judged afterwards on a pyte screen."""

    def __init__(self, config: Path, size: tuple[int, int], src: str | None) -> None:
        self.size, self.chunks, self.started = size, [], 0.0
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.started = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "launchdeck", "--config", str(config)],
                                        stdin=slave, stdout=slave, stderr=slave, env=environment(src),
                                        start_new_session=True, close_fds=True)
        os.close(slave)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                if ready:
                    data = os.read(self.master, 65536)
                    if not data:
                        return
                    self.chunks.append((time.monotonic() - self.started, self.cpu_seconds(), data))
                elif self.process.poll() is not None:
                    return
            except OSError:  # the pty closed with the process
                return

    def cpu_seconds(self) -> float:
        """CPU the dashboard has used so far (all its threads): on a loaded machine the honest
        companion of the wall times."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / TICKS

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024

    def stop(self) -> None:
        with_suppress_kill(self.process)
        self.reader.join(2)
        os.close(self.master)


def with_suppress_kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def judge(run: Run, targets: dict[str, list[str]], deadline: float) -> dict:
    """Replay the chunks until every target has a live row (or `deadline` s pass)."""
    import pyte

    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)  # this thread only: the reader keeps up
    screen = pyte.Screen(*run.size)
    stream = pyte.ByteStream(screen)
    names = [name for group in targets.values() for name in group]
    found: dict[str, float | None] = {"first_full_paint_s": None, "first_full_paint_cpu_s": None,
                                      "first_live_row_s": None, "all_live_s": None}
    fed = 0
    while time.monotonic() - run.started < deadline and found["all_live_s"] is None:
        if fed == len(run.chunks):
            time.sleep(0.02)
            continue
        at, cpu, data = run.chunks[fed]
        fed += 1
        stream.feed(data)
        if fed < len(run.chunks) and run.chunks[fed][0] - at < 0.002:
            continue  # one frame often comes in several chunks: judge once it is all there
        text = "\n".join(screen.display)
        rows = {m.group(2): m.group(1) for m in ROW.finditer(text)}
        if found["first_full_paint_s"] is None and all(p in text for p in PANELS) and \
                all(re.search(rf"\b{re.escape(n)}\b", text) for n in names) and VERDICT.search(text):
            found["first_full_paint_s"], found["first_full_paint_cpu_s"] = at, cpu
        if found["first_live_row_s"] is None and any(rows.get(n) in LIVE for n in names):
            found["first_live_row_s"] = at
        # every row on screen live (a short terminal shows "+N more" for the rest of a panel)
        if found["all_live_s"] is None and "wait" not in rows.values() and \
                all(any(n in rows for n in group) for group in targets.values() if group) and \
                all(rows.get(n) in LIVE for n in names if n in rows):
            found["all_live_s"] = at
    found["screen"] = "\n".join(line.rstrip() for line in screen.display).strip("\n")
    return found


def measure_startup(config: Path, size: tuple[int, int], runs: int, src: str | None = None,
                    deadline: float = 30.0) -> dict:
    targets = targets_of(config)
    results = []
    for _ in range(runs):
        run = Run(config, size, src)
        try:
            found = judge(run, targets, deadline)
            found["peak_rss_mb"] = round(run.peak_rss_mb(), 1)
        finally:
            run.stop()
        results.append(found)
    return {**_summary(results, size), "raw": results}


def _summary(results: list[dict], size: tuple[int, int]) -> dict:
    summary: dict = {key: _stats([r[key] for r in results if r[key] is not None])
                     for key in ("first_full_paint_s", "first_full_paint_cpu_s", "first_live_row_s", "all_live_s",
                                 "peak_rss_mb")}
    summary["runs"], summary["size"] = len(results), f"{size[0]}x{size[1]}"
    summary["missed"] = sum(1 for r in results if r["first_full_paint_s"] is None)
    if summary["missed"]:
        summary["last_screen"] = results[-1]["screen"]
    return summary


def measure_interleaved(config: Path, size: tuple[int, int], runs: int, trees: dict[str, str | None]) -> dict:
    """Each tree's runs alternated with the others': on a shared machine a change of load hits every tree."""
    found: dict[str, list[dict]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, src in trees.items():
            found[name] += measure_startup(config, size, 1, src)["raw"]
    return {name: _summary(results, size) for name, results in found.items()}


def measure_imports(runs: int, src: str | None = None) -> dict:
    """Wall time of the dashboard's imports in a fresh interpreter, and -X importtime's biggest entries."""
    env = environment(src)
    walls, cpus = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", f"import time; t, c = time.perf_counter(), time.process_time(); "
                              f"{IMPORTS}; print(time.perf_counter() - t, time.process_time() - c)"],
                             capture_output=True, text=True, env=env, check=True)
        wall, cpu = out.stdout.split()
        walls.append(float(wall))
        cpus.append(float(cpu))
    trace = subprocess.run([sys.executable, "-X", "importtime", "-c", IMPORTS], capture_output=True, text=True,
                           env=env, check=True).stderr
    top = []
    for line in trace.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit() and len(parts[2]) - len(parts[2].lstrip()) <= 3:
            top.append((int(parts[1]) / 1e6, parts[2].strip()))  # top-level and first-level modules
    top.sort(reverse=True)
    return {"import_wall_s": _stats(walls), "import_cpu_s": _stats(cpus), "importtime_top_s": {name: round(s, 3) for s, name in top[:8]}}


def _stats(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--src", help="the source tree to run (PYTHONPATH); default: the installed one")
    parser.add_argument("--before-src", help="a second tree, run alternately with the first (before / after)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    trees = {"after": args.src, **({"before": args.before_src} if args.before_src else {})}
    load = os.getloadavg()
    startup = measure_interleaved(args.config, size, args.runs, trees)
    imports = {}
    for _ in range(args.runs):  # alternated too, one run each time
        for name, src in trees.items():
            imports.setdefault(name, []).append(measure_imports(1, src))
    result = {"load_average_before": load, "config": str(args.config), "startup": startup,
              "imports": {name: {"import_wall_s": _stats([r["import_wall_s"]["median"] for r in runs]),
                                 "import_cpu_s": _stats([r["import_cpu_s"]["median"] for r in runs]),
                                 "importtime_top_s": runs[-1]["importtime_top_s"]} for name, runs in imports.items()},
              "load_average_after": os.getloadavg()}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "startup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average {load} -> {result['load_average_after']} (shared machine), medians of {args.runs}")
    for name in trees:
        s, i = startup[name], result["imports"][name]
        print(f"{name}:")
        for key in ("first_full_paint_s", "first_full_paint_cpu_s", "first_live_row_s", "all_live_s", "peak_rss_mb"):
            print(f"  {key:22} {s[key]}")
        print(f"  {'import wall':22} {i['import_wall_s']}\n  {'import CPU':22} {i['import_cpu_s']}")
        if s["missed"]:
            print(f"  missed {s['missed']} runs; last screen:\n{s['last_screen']}")


if __name__ == "__main__":
    main()
