"""200 loopback HTTP targets, 20 hanging: cycle time, latency, false warns, key latency (check and TUI).

Side by side before and after an engine change, in `check` and in the dashboard (through a pty).

The requirement measured: a full cycle completes in timeout + 0.5 s, the fast targets read a median
under 20 ms and a p95 under 50 ms (in the TUI and in `check`), no fast target warns, and a key press
during the cycle is answered in under 100 ms.

  server  a separate process (targets_server.py) on one loopback port: 180 paths answer
          `200 ok` at once, 20 (every 10th: s000, s010, ...) accept, read the request and never answer;
          it logs when every request arrived and when the client gave up on a hanging one (GET /__log),
          so each run knows when its first sample really started and how long a timeout really held
  curl    ~20 fast paths one after the other with curl: the source of truth for the latency
  check   `python -m launchdeck check --json` (exit 2 from the hanging targets is expected), 3 runs:
          wall clock of the whole process, and of the same with no services (start-up alone); the
          cycle from the first request the server saw to the process gone; median / p95 of the fast
          targets' latency_seconds; fast targets not ok; whether all 200 targets are in --json
  TUI     `python -m launchdeck` on a pty (TERM=xterm-256color, 200x230 so every row is on screen),
          2 runs; its output fed to a pyte screen in a process at nice 19 (so the emulator does not
          take CPU from the dashboard), every chunk dated when it left the pty: fast rows' latencies
          once the first cycle landed and at the end (~16 s after the first paint), fast rows ever
          warn/crit, `↕` flap marks; when each hanging row first said "timeout" (after the first paint,
          and after its own first request); `?` pressed right after the first paint and then every
          ~1.3 s: time until the help screen's title is in the output, then escape; at this size the
          help screen alone takes 100-240 ms to draw, so the key goal is judged at the next size:
  keys    the same 200-target deck at 120x40 (a usual terminal: only the visible rows are drawn), 1 run:
          `?` right after the first paint and then 10 times, one every 2.5 s (escape in between), and `r`
          (the cheap key: a "polling every probe now" toast) after each, 1.25 s later; a key's latency
          is from the write of the key to the first pty chunk carrying the help title / the toast text;
          every press is annotated with what the engine had in flight then (from the server's log)
  idle    `?` and `r` on an idle 3-target deck at both sizes: what the drawing alone costs

Before measuring, it waits (up to --quiet-wait s, 15 min) until no pytest and no `launchdeck demo`
runs (pgrep -f, every 10 s), says in the JSON how long it waited or that it gave up, and watches for
them while it measures. Every process it starts is stopped (also on SIGTERM); what is left is listed.

--src DIR goes first on PYTHONPATH of every launchdeck process, so an older commit can be measured
from a worktree (the run records which launchdeck/__init__.py was imported and the commit):

    git worktree add /tmp/ld-before d504037
    .venv/bin/python bench/many_targets.py --src /tmp/ld-before/src --label before
    .venv/bin/python bench/many_targets.py --label now
    git worktree remove --force /tmp/ld-before
    # or, leaving .git alone: mkdir /tmp/ld-before && git archive d504037 src | tar -x -C /tmp/ld-before
    #   .venv/bin/python bench/many_targets.py --src /tmp/ld-before/src --src-commit d504037 --label before
    .venv/bin/python bench/many_targets.py --compare before now     # the saved results side by side

Needs curl and pyte (the `bench` extra: `.venv/bin/pip install -e '.[bench]'`; `make bench` installs it).
Writes bench/results/many_targets_<label>.json and prints a table. Loopback only, ~2.5 minutes.

This file runs the bench (config, environment, the `check` runs, main); the rest is in bench/:
many_targets_setup.py (the deck: targets, hanging, timeout, sizes, goals), targets_server.py (the
server and curl), quiet_machine.py (waiting for quiet, what else ran), pty_dashboard.py (the dashboard
on a pty), many_targets_report.py (stats, report, headline, table).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from many_targets_report import count, headline, report, stats, table
from many_targets_setup import (
    DECK_NAME,
    NORMAL,
    REFRESH,
    SIZE,
    TARGETS,
    TIMEOUT,
    hangs,
    name,
)
from pty_dashboard import measure_key_baseline, measure_keys, measure_tui
from quiet_machine import Watchman, busy_processes, leftovers, wait_until_quiet
from targets_server import (
    curl_baseline,
    first_requests,
    sample_summary,
    serve,
    server_log,
    start_server,
    stop_server,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WARN_S = 0.5  # the default latency_warn, for reference in the output


# ---------------------------------------------------------------- config and environment


def write_config(directory: Path, port: int, indices: range | list[int], refresh: float = REFRESH,
                 engine: str | None = None) -> Path:
    lines = ["[deck]", f'name = "{DECK_NAME}"', 'environment = "bench"', f'refresh = "{refresh:g}s"',
             *([f'engine = "{engine}"'] if engine else []), ""]
    for index in indices:
        lines += ["[[services]]", f'name = "{name(index)}"', f'url = "http://127.0.0.1:{port}/p{index:03d}"',
                  f'timeout = "{TIMEOUT:g}s"', ""]
    path = directory / f"many-targets-{len(indices)}-{refresh:g}s.toml"
    path.write_text("\n".join(lines))
    return path


def child_env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("LAUNCHDECK_CONFIG", None)
    return env


def describe_source(python: str, env: dict[str, str], src: Path, commit: str | None = None) -> dict:
    code = "import launchdeck, sys, textual; print(launchdeck.__file__); print(sys.version.split()[0]); " \
           "print(textual.__version__)"
    out = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    imported = Path(out[0]).resolve()
    if not imported.is_relative_to(src.resolve()):
        raise SystemExit(f"--src {src} is not what runs: launchdeck imports from {imported}")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True).stdout.strip()

    if commit:  # a tree exported with `git archive` is no checkout: the caller says which commit it is
        return {"src": str(src), "imported": str(imported), "commit": commit, "exported_tree": True,
                "uncommitted_changes_under_src": 0, "python": out[1], "textual": out[2]}
    dirty = git("status", "--porcelain", "--", ".")
    return {"src": str(src), "imported": str(imported), "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_changes_under_src": len(dirty.splitlines()) if dirty else 0,
            "python": out[1], "textual": out[2]}


# ---------------------------------------------------------------- check


def measure_check(python: str, env: dict[str, str], config: Path, empty: Path, runs: int, port: int) -> dict:
    fast_names = {name(i) for i in range(TARGETS) if not hangs(i)}
    result: dict = {"runs": [], "startup_only_s": []}
    for _ in range(runs):  # start-up alone: the same command on a deck with no services
        started = time.monotonic()
        subprocess.run([python, "-m", "launchdeck", "check", "--json", "--config", str(empty)], env=env,
                       capture_output=True, timeout=60)
        result["startup_only_s"].append(round(time.monotonic() - started, 3))
    for _ in range(runs):
        server_log(port)  # forget earlier requests: the log below is this run's
        started = time.monotonic()
        try:
            proc = subprocess.run([python, "-m", "launchdeck", "check", "--json", "--config", str(config)], env=env,
                                  capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:  # run() killed it
            result["runs"].append({"wall_s": 60.0, "exit": None, "error": "check did not finish in 60 s"})
            continue
        ended = time.monotonic()
        wall = ended - started
        log = server_log(port)
        first = first_requests(log)
        run: dict = {"wall_s": round(wall, 3), "exit": proc.returncode, "server_side": sample_summary(log)}
        if first:  # the cycle itself: the first sample reaching the server → the process gone with its answer
            run["first_request_s_after_start"] = round(min(first.values()) - started, 3)
            run["last_first_request_s_after_start"] = round(max(first.values()) - started, 3)
            run["cycle_s_first_request_to_exit"] = round(ended - min(first.values()), 3)
            run["targets_requested"] = len(first)
        try:
            readings = json.loads(proc.stdout)["readings"]
        except (json.JSONDecodeError, KeyError, TypeError):
            run["error"] = (proc.stderr or proc.stdout)[-2000:]
            result["runs"].append(run)
            continue
        fast = [r for r in readings if r["target"] in fast_names]
        slow = [r for r in readings if r["target"] not in fast_names]
        latencies = [r["latency_seconds"] for r in fast if r.get("latency_seconds") is not None]
        services = [r["target"] for r in readings if r.get("panel", "services") == "services"]
        missing = sorted({name(i) for i in range(TARGETS)} - set(services))
        run.update({
            "readings": len(readings),
            "targets_missing": missing,
            "all_targets_in_json": not missing and len(services) == TARGETS and len(set(services)) == TARGETS,
            "fast_latency_s": stats(latencies),
            "fast_without_latency": len(fast) - len(latencies),
            "false_warns": sorted(f"{r['target']} {r['status']}: {r['reason']}" for r in fast if r["status"] != "ok"),
            "hanging": {"statuses": count(f"{r['status']}: {r['reason']}" for r in slow),
                        "duration_s": stats([r["duration_seconds"] for r in slow])},
            "fast_duration_s_max": round(max((r["duration_seconds"] for r in fast), default=0.0), 3),
        })
        result["runs"].append(run)
    ok = [r for r in result["runs"] if "error" not in r and r["fast_latency_s"]["n"]]
    if ok:
        result["median_of_runs"] = {
            "wall_s": round(statistics.median(r["wall_s"] for r in ok), 3),
            "startup_only_s": round(statistics.median(result["startup_only_s"]), 3),
            "fast_median_s": round(statistics.median(r["fast_latency_s"]["median"] for r in ok), 4),
            "fast_p95_s": round(statistics.median(r["fast_latency_s"]["p95"] for r in ok), 4),
            "false_warns": statistics.median(len(r["false_warns"]) for r in ok),
        }
        cycles = [r["cycle_s_first_request_to_exit"] for r in ok if "cycle_s_first_request_to_exit" in r]
        if cycles:
            result["median_of_runs"]["cycle_s_first_request_to_exit"] = round(statistics.median(cycles), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="launchdeck source dir, first on PYTHONPATH")
    parser.add_argument("--label", default="now", help="results go to bench/results/many_targets_<label>.json")
    parser.add_argument("--src-commit", help="the commit --src was exported from (git archive), when it is no checkout")
    parser.add_argument("--python", default=sys.executable, help="interpreter for launchdeck (has its dependencies)")
    parser.add_argument("--check-runs", type=int, default=3)
    parser.add_argument("--tui-runs", type=int, default=2)
    parser.add_argument("--key-window", type=float, default=16.0, help="s after the first paint of pressing ? again")
    parser.add_argument("--key-every", type=float, default=1.3)
    parser.add_argument("--curl-paths", type=int, default=20)
    parser.add_argument("--normal-runs", type=int, default=1, help=f"runs at {NORMAL[0]}x{NORMAL[1]} for the key latency")
    parser.add_argument("--normal-presses", type=int, default=10, help="? and r presses after the first-cycle ones")
    parser.add_argument("--normal-every", type=float, default=2.5, help="s between two ? presses at the normal size")
    parser.add_argument("--quiet-wait", type=float, default=900.0,
                        help="s to wait for no pytest / launchdeck demo before measuring (0: do not wait)")
    parser.add_argument("--engine", choices=["thread", "process"],
                        help="[deck] engine in the dashboard's config (default: none written, the config's default)")
    parser.add_argument("--emulator-nice", type=int, default=19,
                        help="niceness of the pyte emulator process (19: it takes no CPU from the dashboard; on a "
                             "machine others keep busy, 19 starves it and the bench gives up waiting for it)")
    parser.add_argument("--compare", nargs="+", metavar="LABEL", help="print saved results side by side, run nothing")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve()
    if args.compare:
        return table([json.loads((HERE / "results" / f"many_targets_{label}.json").read_text())
                      for label in args.compare])
    try:
        importlib.import_module("pyte")
    except ImportError:
        raise SystemExit("pyte is needed to read the dashboard's screen: .venv/bin/pip install -e '.[bench]' "
                         "(the bench extra; `make bench` installs it)")
    if not re.fullmatch(r"[\w.-]+", args.label):
        raise SystemExit("--label: letters, digits, '.', '_' or '-'")

    def terminated(signum, _frame):  # every finally below still runs: no dashboard or server left behind
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # under nohup a hang-up is to be ignored
        signal.signal(signal.SIGHUP, terminated)
    env = child_env(args.src)
    import pty_dashboard

    pty_dashboard.EMULATOR_NICE = args.emulator_nice
    quiet = wait_until_quiet(args.quiet_wait) if args.quiet_wait > 0 else {"waited_s": 0, "skipped": True}
    began = time.monotonic()
    result: dict = {
        "label": args.label,
        "machine": {"nproc": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)), "quiet_wait": quiet,
                    "loadavg_at_start": [round(x, 2) for x in os.getloadavg()], "platform": platform.platform(),
                    "busy_processes_at_start": busy_processes()},
        "source": describe_source(args.python, env, args.src, args.src_commit),
        "setup": {"targets": TARGETS, "hanging": [name(i) for i in range(TARGETS) if hangs(i)], "timeout_s": TIMEOUT,
                  "refresh_s": REFRESH, "latency_warn_s": WARN_S, "cycle_goal_s": TIMEOUT + 0.5,
                  "engine": args.engine or "(config default)", "emulator_nice": args.emulator_nice},
    }
    watchman = Watchman()
    watchman.start()
    server, port = start_server()
    tmp = tempfile.mkdtemp(prefix="ld-many-")
    try:
        config = write_config(Path(tmp), port, range(TARGETS), engine=args.engine)
        empty = write_config(Path(tmp), port, [], engine=args.engine)
        small = write_config(Path(tmp), port, [1, 2, 3], engine=args.engine)
        once = write_config(Path(tmp), port, range(TARGETS), refresh=3600.0, engine=args.engine)
        result["curl"] = curl_baseline(port, args.curl_paths)
        result["check"] = measure_check(args.python, env, config, empty, args.check_runs, port)
        result["key_baseline"] = measure_key_baseline(args.python, env, small, SIZE, 3, "3 fast targets")
        result["key_baseline_normal"] = measure_key_baseline(args.python, env, small, NORMAL, 3, "3 fast targets")
        result["key_baseline_normal_200"] = measure_key_baseline(
            args.python, env, once, NORMAL, TARGETS, "the 200 targets, refresh 1 h: polled once, before the presses")
        result["tui"] = []
        for _ in range(args.tui_runs):
            result["tui"].append(measure_tui(args.python, env, config, SIZE, args.key_window, args.key_every, port))
        result["tui_normal"] = []
        for _ in range(args.normal_runs):
            result["tui_normal"].append(measure_keys(args.python, env, config, NORMAL, args.normal_presses,
                                                     args.normal_every, port))
    finally:
        stop_server(server)
        result["machine"]["others_seen_while_measuring"] = watchman.stop()
        result["machine"]["left_running"] = leftovers(tmp)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    result["runtime_s"] = round(time.monotonic() - began, 1)
    result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"]["busy_processes_at_end"] = busy_processes()
    result["headline"] = headline(result)
    out = HERE / "results" / f"many_targets_{args.label}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    report(result)
    print(f"  measured in {result['runtime_s']:.0f}s (after waiting {quiet['waited_s']}s for a quiet machine"
          f"{', GAVE UP' if quiet.get('gave_up') else ''}); others seen while measuring: "
          f"{len(result['machine']['others_seen_while_measuring']['sightings'])} times; CPU used by other processes "
          f"meanwhile: {result['machine']['others_seen_while_measuring']['others_cpu_s']}s "
          f"({100 * result['machine']['others_seen_while_measuring']['others_cpu_share_of_machine']:.0f}% of the "
          f"machine): {result['machine']['others_seen_while_measuring']['others_top_cpu_s']}; left running: "
          f"{result['machine']['left_running']['unexpected'] or 'nothing'}")
    print()
    table([result])
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
