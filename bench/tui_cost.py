"""What the dashboard costs on the launch box, beside glances, in one run (issue 14).

Config: the demo stack (`launchdeck demo --no-tui`, its own process) behind 20 HTTP services, its
4 scrape traffic sources and 2 backup sources, at a 2 s refresh and at the default 5 s.
- idle: CPU (% of one core: the dashboard's process and every process under it, e.g. the engine's
  own in process mode) and bytes written to the terminal (tmux pipe-pane), at 80x24 and 120x40,
  after a settle; glances at the same refresh (`glances -t 2` / `-t 5`, its curses TUI) beside it;
  the engine alone (no UI) at 2 s for the split; peak RSS (VmHWM) of every run.
- start-up: first full paint, first live row, every target live (bench/startup.py's pty probe,
  120x40: every row fits) and the dashboard's import time.
With --before-src DIR (e.g. `git archive <commit> src | tar -x -C DIR`), the same runs are made on
that tree too, interleaved with the current one, so before and after share the machine's load.
Every figure is the median of --repeats runs; the load average is recorded (this VM is shared).

    .venv/bin/python bench/tui_cost.py [--repeats 3] [--window 15] [--before-src /tmp/before/src]

Writes bench/results/tui_cost.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import environment, measure_imports, measure_startup  # noqa: E402  (bench/ is not a package)

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")
SERVICES = 20
SIZES = ((80, 24), (120, 40))
REFRESHES = ("2s", "5s")


class Tmux:
    def __init__(self) -> None:
        self.base = ["tmux", "-L", f"ld-bench-{uuid.uuid4().hex[:8]}"]

    def run(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, check=True).stdout

    def start(self, command: str, size: tuple[int, int]) -> int:
        self.run("new-session", "-d", "-s", "s", "-x", str(size[0]), "-y", str(size[1]), f"exec {command}")
        return int(self.run("display-message", "-p", "-t", "s", "#{pane_pid}").strip())

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found


def tree_cpu_seconds(pid: int) -> float:
    """The process's CPU with its reaped children's, plus every live descendant's."""
    fields = _stat(pid)
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for child in descendants(pid):
        try:
            child_fields = _stat(child)
        except OSError:
            continue
        total += int(child_fields[11]) + int(child_fields[12])
    return total / TICKS


def tree_peak_rss_mb(pid: int) -> float:
    total = 0
    for each in [pid, *descendants(pid)]:
        try:
            total += int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{each}/status").read_text()).group(1))
        except (OSError, AttributeError):
            continue
    return total / 1024


def measure_idle(command: str, size: tuple[int, int], settle: float, window: float) -> dict:
    tmux = Tmux()
    log = Path(tempfile.mkstemp(prefix="ld-bench-", suffix=".out")[1])
    try:
        pid = tmux.start(command, size)
        time.sleep(settle)
        tmux.run("pipe-pane", "-o", "-t", "s", f"cat >> {log}")
        time.sleep(0.2)
        bytes0, cpu0, t0 = log.stat().st_size, tree_cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        bytes1, cpu1, t1 = log.stat().st_size, tree_cpu_seconds(pid), time.monotonic()
        return {"cpu_percent_of_core": 100 * (cpu1 - cpu0) / (t1 - t0), "terminal_bytes_per_s": (bytes1 - bytes0) / (t1 - t0),
                "peak_rss_mb": tree_peak_rss_mb(pid)}
    finally:
        tmux.kill()
        log.unlink(missing_ok=True)


ENGINE_ONLY = """
import sys, time
from pathlib import Path
from launchdeck.core.config import load_config
from launchdeck.engine.engine import Engine
from launchdeck.probes import build_probes

config = load_config(Path(sys.argv[1]))
engine = Engine(config, build_probes(config))
engine.start()
time.sleep(float(sys.argv[2]))
print("ready", flush=True)
time.sleep(float(sys.argv[3]) + 5)
engine.stop()
"""


def measure_engine_only(config: Path, settle: float, window: float, src: str | None) -> dict:
    """The same config's engine with no view at all: how much of the dashboard's CPU is the polling."""
    process = subprocess.Popen([sys.executable, "-c", ENGINE_ONLY, str(config), str(settle), str(window)],
                               stdout=subprocess.PIPE, text=True, env=environment(src))
    try:
        process.stdout.readline()
        cpu0, t0 = tree_cpu_seconds(process.pid), time.monotonic()
        time.sleep(window)
        cpu1, t1 = tree_cpu_seconds(process.pid), time.monotonic()
        return {"cpu_percent_of_core": 100 * (cpu1 - cpu0) / (t1 - t0), "terminal_bytes_per_s": 0.0,
                "peak_rss_mb": tree_peak_rss_mb(process.pid)}
    finally:
        process.kill()
        process.wait()


def derived_config(demo_config: Path, refresh: str, out: Path) -> Path:
    """The demo's config with SERVICES HTTP services (its 5 URLs, each several times) at `refresh`."""
    text = demo_config.read_text(encoding="utf-8")
    urls = re.findall(r'url = "(http://[^"]+/health)"', text)
    names = re.findall(r'\[\[services\]\]\nname = "([\w-]+)"', text)
    head, rest = text.split("[[services]]", 1)
    head = re.sub(r'refresh = "[^"]+"', f'refresh = "{refresh}"', head)
    services = "".join(f'[[services]]\nname = "{names[i % len(names)]}-{i // len(names) + 1}"\n'
                       f'url = "{urls[i % len(urls)]}"\ntimeout = "2s"\n\n' for i in range(SERVICES))
    out.write_text(head + services + "[[traffic]]" + rest.split("[[traffic]]", 1)[1], encoding="utf-8")
    return out


def _median(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs]
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window", type=float, default=15.0, help="idle measurement window, seconds")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds after start before measuring")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--before-src", help="a source tree to measure beside the current one (PYTHONPATH)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "tui_cost.json")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is required: scripts/services.sh up installs it")
    glances = shutil.which("glances", path=str(BIN)) or shutil.which("glances")
    variants = {"after": None, **({"before": args.before_src} if args.before_src else {})}
    result: dict = {"machine": {"nproc": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                                "load_average_start": os.getloadavg(),
                                "note": "shared VM: other sessions were running; compare rows of this run only"},
                    "config": {"services": SERVICES, "traffic": 4, "backups": 2, "refresh": list(REFRESHES)},
                    "repeats": args.repeats, "window_s": args.window, "settle_s": args.settle, "variants": variants,
                    "startup": {}, "imports": {}, "idle": []}
    workdir = Path(tempfile.mkdtemp(prefix="ld-bench-"))
    stack = subprocess.Popen([BIN / "launchdeck", "demo", "--no-tui"], stdout=subprocess.PIPE, text=True)
    try:
        demo_config = Path(re.search(r"config: (\S+)", stack.stdout.readline()).group(1))
        configs = {refresh: derived_config(demo_config, refresh, workdir / f"deck-{refresh}.toml") for refresh in REFRESHES}
        for name, src in variants.items():
            measured = measure_startup(configs["2s"], (120, 40), args.startup_runs, src)
            result["startup"][name] = {key: value for key, value in measured.items() if key != "raw"}
            result["imports"][name] = measure_imports(args.startup_runs, src)
        runs: dict[tuple, list[dict]] = {}
        for _ in range(args.repeats):  # interleaved: a change of load on this shared machine hits every row
            for refresh in REFRESHES:
                for size in SIZES:
                    tools = {f"launchdeck {name}": (f"env {'PYTHONPATH=' + src if src else 'LD_BENCH=1'} "
                                                    f"{sys.executable} -m launchdeck --config {configs[refresh]}")
                             for name, src in variants.items()}
                    if glances:
                        tools["glances"] = f"{glances} -t {refresh[:-1]}"
                    for tool, command in tools.items():
                        runs.setdefault((tool, refresh, f"{size[0]}x{size[1]}"), []).append(
                            measure_idle(command, size, args.settle, args.window))
            for name, src in variants.items():
                runs.setdefault((f"engine only {name}", "2s", "-"), []).append(
                    measure_engine_only(configs["2s"], args.settle, args.window, src))
        for (tool, refresh, size), measured in runs.items():
            result["idle"].append({"tool": tool, "refresh": refresh, "size": size, "runs": len(measured),
                                   **{key: _median(measured, key) for key in measured[0]}})
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    result["machine"]["load_average_end"] = os.getloadavg()

    out = args.out.resolve()
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average {result['machine']['load_average_start']} -> {result['machine']['load_average_end']} "
          f"(shared machine), medians of {args.repeats}")
    print(f"\n{'idle':24} {'refresh':>7} {'size':>7} {'CPU % of a core':>22} {'bytes/s':>9} {'peak RSS MB':>12}")
    for row in sorted(result["idle"], key=lambda r: (r["refresh"], r["size"], r["tool"])):
        cpu = row["cpu_percent_of_core"]
        print(f"{row['tool']:24} {row['refresh']:>7} {row['size']:>7} {cpu['median']:>8.2f} "
              f"[{cpu['min']:.2f}-{cpu['max']:.2f}] {row['terminal_bytes_per_s']['median']:>9.1f} "
              f"{row['peak_rss_mb']['median']:>12.1f}")
    print(f"\n{'start-up (120x40, pty)':24} {'full paint':>11} {'paint CPU':>10} {'first live':>11} {'all live':>9} "
          f"{'import':>8} {'import CPU':>10}")
    for name in variants:
        s, i = result["startup"][name], result["imports"][name]
        cell = lambda d: f"{d['median']:.3f}" if d else "-"  # noqa: E731
        print(f"{'launchdeck ' + name:24} {cell(s['first_full_paint_s']):>11} {cell(s['first_full_paint_cpu_s']):>10} "
              f"{cell(s['first_live_row_s']):>11} {cell(s['all_live_s']):>9} {cell(i['import_wall_s']):>8} "
              f"{cell(i['import_cpu_s']):>10}")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
