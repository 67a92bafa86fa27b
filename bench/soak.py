"""Flat over a day: several dashboards on one ledger, thousands of refresh cycles, the demo stack flapping.

The parent runs the demo stack (demo/stack.py, driven through its public `tune`) plus one service of
its own that really goes away (its listening socket closed, so connections are refused) and comes
back on the same port; it writes new backup dumps as it goes (the oldest of a source removed, so the
folder's size stays put) and flips error ratio and p95 across their thresholds. Meanwhile N child
processes each run the real engine and the real TUI headless (Textual's run_test, 120x40) on the
same config and the same ledger, the service probes at an accelerated interval, and each adds a note to a
checklist item every few seconds through its engine, so the others read it from the shared ledger.

Each child measures, after a warm-up and again at the end (after gc.collect(); the least of five
looks 0.4 s apart, so a pool thread or a socket in flight at one instant is not counted as growth):
RSS, asyncio tasks (the app's loop and the engine's), threads, open file descriptors; and counts
errors: log records at WARNING or above and the engine's ProblemNotices. A cycle is one poll of the
fastest service (`web`: collect() calls, re-takes included); the run ends at --cycles or
--max-seconds, whichever first (the figures say which).
RSS grows while the engine's reading history fills: it is bounded (engine/state.py HISTORY_SECONDS,
core/history.py 4096 readings per target), ~0.75 KB a reading held; at an accelerated interval the
count bound is what holds, reached after ~4,100 cycles. So RSS is also taken when every service's
history is full ("steady"), and growth from there to the end is the leak test proper.
With --trace, a child keeps tracemalloc on and prints the 15 biggest growths between the two points.

Writes bench/results/soak.json and prints a table.

    .venv/bin/python bench/soak.py [--dashboards 3] [--cycles 10000] [--interval 0.03] [--max-seconds 450]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
WARM_UP_CYCLES = 300  # the traffic windows and histories fill, caches settle: "start" is measured after
RSS_GROWTH_LIMIT_MB = 10.0
CYCLE_KEY = "services/web"  # a cycle: one poll of the fastest service


def counted(probe, polls: dict[str, int]):
    """probe.collect, counting its calls (re-takes included: each is a poll the engine ran)."""
    collect, key = probe.collect, f"{probe.panel}/{probe.target}"

    async def collect_counted():
        polls[key] = polls.get(key, 0) + 1
        return await collect()

    return collect_counted


def history_size(engine) -> int | None:
    """Readings the engine's history holds (core/history.py: bounded by age and by count per target)."""
    kept = getattr(getattr(getattr(engine, "state", None), "history", None), "_by_key", None)
    return None if kept is None else sum(len(readings) for readings in list(kept.values()))


def history_full(engine) -> bool:
    """Every service's history at its count bound: from here on, RSS has no reason to grow."""
    history = getattr(getattr(engine, "state", None), "history", None)
    kept = getattr(history, "_by_key", {})
    services = [readings for (panel, _), readings in list(kept.items()) if panel == "services"]
    return bool(services) and all(len(readings) >= (readings.maxlen or 0) for readings in services)


def engine_retakes(engine) -> int | None:
    """Samples the engine re-took because its loop stalled (a loaded machine), if it says."""
    for holder in (engine, getattr(engine, "poller", None), getattr(engine, "_poller", None)):
        if holder is not None and hasattr(holder, "retakes"):
            return holder.retakes
    return None


# ---------------------------------------------------------------- the flapping stack (parent)


class _Health(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = b'{"status": "healthy"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        """A dashboard that gave up on the answer (its 0.3 s timeout) hung up: expected, not a fault."""


class Flapper:
    """A health endpoint that really goes away (socket closed: refused) and comes back on its port."""

    def __init__(self) -> None:
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    def up(self) -> None:
        if self.server is None:
            self.server = _QuietServer(("127.0.0.1", self.port), _Health)
            self.port = self.server.server_address[1]
            threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def down(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def flap(stack, flapper: Flapper, backups: Path, step: int) -> str:
    """One change of the stack per call, in a fixed rotation; returns what changed (for the log)."""
    from launchdeck.demo.backups import make_backups

    phase = step % 8
    if phase == 0:
        flapper.down()
        return "flapper down (refused)"
    if phase == 1:
        stack.tune("api", health_delay_ms=600)  # beyond the 0.3 s timeout: the check fails
        return "api times out"
    if phase == 2:
        stack.tune("checkout", error_ratio=0.3, p95_ms=2500)  # traffic breaches
        return "checkout breaches"
    if phase == 3:
        flapper.up()
        return "flapper up"
    if phase == 4:
        stack.tune("api", health_delay_ms=3)
        return "api back"
    if phase == 5:
        stack.tune("checkout", error_ratio=0.02, p95_ms=260)
        return "checkout recovers"
    if phase == 6:  # a new dump appears (a whole set, dated now); the oldest set goes
        scratch = Path(tempfile.mkdtemp(prefix="ld-soak-dumps-"))
        for made in (make_backups(scratch, now=time.time() + step)).iterdir():
            made.replace(backups / made.name)
        scratch_dir = scratch / "backups"
        scratch_dir.rmdir()
        scratch.rmdir()
        dumps = sorted(backups.iterdir(), key=lambda p: p.stat().st_mtime)
        for old in dumps[:-12]:
            old.unlink()
        return "backups appear"
    stack.tune("web", p95_ms=80 + 400 * (step % 16 == 7))
    return "web p95 moves"


def write_config(directory: Path, stack, flapper: Flapper) -> Path:
    from launchdeck.demo.backups import make_backups

    folder = make_backups(directory)
    text = stack.config_text(backups_dir=folder, docker=False)
    text = text.replace('timeout = "2s"', 'timeout = "0.3s"')
    text += f'\n[[services]]\nname = "flapper"\nurl = "http://127.0.0.1:{flapper.port}/health"\ntimeout = "0.3s"\n'
    path = directory / "launchdeck.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_parent(args: argparse.Namespace) -> dict:
    from launchdeck.demo.stack import DemoStack

    directory = Path(tempfile.mkdtemp(prefix="ld-soak-"))
    flapper = Flapper()
    stack = DemoStack(seed=14).start()
    children = []
    changes = 0
    load_start = os.getloadavg()
    started = time.monotonic()
    try:
        config = write_config(directory, stack, flapper)
        for number in range(args.dashboards):
            out = directory / f"child-{number}.json"
            argv = [sys.executable, __file__, "--child", str(config), "--out", str(out), "--cycles", str(args.cycles),
                    "--interval", str(args.interval), "--max-seconds", str(args.max_seconds), "--number", str(number)]
            if args.trace:
                argv.append("--trace")
            children.append((subprocess.Popen(argv, stderr=subprocess.PIPE, text=True), out))
        step = 0
        while any(child.poll() is None for child, _ in children):
            time.sleep(args.flap_every)
            flap(stack, flapper, folder_of(config), step)
            step, changes = step + 1, changes + 1
        failures = [child.stderr.read()[-3000:] for child, _ in children if child.returncode != 0]
        if failures:
            raise SystemExit("a dashboard failed:\n" + "\n---\n".join(failures))
        reports = [json.loads(out.read_text()) for _, out in children]
        ledger_lines = sum(1 for _ in (directory / "launch-signoff.jsonl").open()) \
            if (directory / "launch-signoff.jsonl").exists() else 0
    finally:
        for child, _ in children:
            if child.poll() is None:
                child.kill()
        stack.stop()
        flapper.down()
    return {"dashboards": args.dashboards, "cycles_asked": args.cycles, "interval_s": args.interval,
            "max_seconds": args.max_seconds, "stack_changes": changes, "flap_every_s": args.flap_every,
            "wall_s": round(time.monotonic() - started, 1), "load_start": [round(v, 2) for v in load_start],
            "load_end": [round(v, 2) for v in os.getloadavg()], "cores": os.cpu_count(),
            "ledger_records": ledger_lines, "children": reports}


def folder_of(config: Path) -> Path:
    return config.parent / "backups"


# ---------------------------------------------------------------- one dashboard (child)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}"[:300])


def _fds() -> tuple[int, int]:
    """(sockets, everything else) open now: sockets come and go with every request in flight."""
    sockets = other = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed while we looked (listdir's own descriptor, a socket just done)
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            other += 1
    return sockets, other


def run_child(args: argparse.Namespace) -> None:
    import tracemalloc

    from launchdeck.core.config import load_config
    from launchdeck.engine.notices import ProblemNotice, ReadingNotice
    from launchdeck.probes import build_probes
    from launchdeck.tui.app import make_app

    if args.trace:
        tracemalloc.start(12)
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    config = load_config(Path(args.child))
    probes = build_probes(config)
    polls: dict[str, int] = {}  # "panel/target" -> collect() calls: the refresh cycles the engine ran
    for probe in probes:  # services at the soak's pace; scrapes and listings slower (the stack is one process)
        probe.interval = {"services": args.interval, "traffic": max(args.interval, 0.25)}.get(probe.panel, 1.0)
        probe.collect = counted(probe, polls)
    app = make_app(config, probes=probes)
    engine = app.engine
    counts: dict[str, int] = {}  # "panel/target" -> readings handed to the views
    problems: list[str] = []

    def listen(notice) -> None:  # on the engine's thread
        if isinstance(notice, ReadingNotice):
            key = f"{notice.reading.panel}/{notice.reading.target}"
            counts[key] = counts.get(key, 0) + 1
        elif isinstance(notice, ProblemNotice):
            problems.append(f"{notice.title}: {notice.text}"[:300])

    engine.subscribe(listen)

    async def engine_tasks() -> int:
        return len(asyncio.all_tasks())

    def figures() -> dict:
        gc.collect()
        loop = engine._loop
        in_engine = asyncio.run_coroutine_threadsafe(engine_tasks(), loop).result(5) if loop else None
        return {"cycles": polls.get(CYCLE_KEY, 0), "readings": counts.get(CYCLE_KEY, 0), "rss_mb": round(_rss_mb(), 2),
                "tasks_app": len(asyncio.all_tasks()), "tasks_engine": in_engine,
                "threads": threading.active_count(), "os_threads": len(os.listdir("/proc/self/task")),
                "fds": sum(fds := _fds()), "sockets": fds[0], "fds_not_sockets": fds[1], "errors_logged": len(errors.records),
                "problems": len(problems), "retakes": engine_retakes(engine), "history_readings": history_size(engine),
                "t_s": round(time.monotonic() - began, 1)}

    async def floor(pilot) -> dict:
        """Five looks 0.4 s apart, the least of each count: a pool thread or a socket in flight at one
        instant is not growth; a leak raises the floor."""
        looks = []
        for _ in range(8):
            looks.append(figures())
            await pilot.pause(0.3)
        least = dict(looks[-1])
        for key in ("rss_mb", "tasks_app", "tasks_engine", "threads", "os_threads", "fds", "sockets", "fds_not_sockets"):
            values = [look[key] for look in looks if look[key] is not None]
            least[key] = min(values) if values else None
        least["max_of_looks"] = {key: max(look[key] or 0 for look in looks) for key in ("os_threads", "fds", "sockets")}
        return least

    async def note(pilot, states: list, number: int) -> None:
        """One note on one item through this dashboard's engine: the others read it from the ledger."""
        from launchdeck.checklists.signing import Request

        state = states[(number + args.number) % len(states)]
        await asyncio.wrap_future(engine.sign(Request(state.checklist, state.item, "note", f"soak {args.number}/{number}")))

    async def main() -> dict:
        async with app.run_test(headless=True, size=(120, 40)) as pilot:
            states = [s for s in (engine.checklists.board.states.values() if engine.checklists else ())
                      if not s.item.verify]
            if states:  # the ledger write path (and the pool thread it uses) is warm before "start" too
                await note(pilot, states, 0)
            while polls.get(CYCLE_KEY, 0) < WARM_UP_CYCLES and time.monotonic() - began < args.max_seconds / 3:
                await pilot.pause(0.5)
            start = await floor(pilot)
            first_snapshot = tracemalloc.take_snapshot() if args.trace else None
            samples, notes, last_note, last_sample = [start], 1, time.monotonic(), time.monotonic()
            steady = None  # the first look once every service's history is at its bound (core/history.py)
            while polls.get(CYCLE_KEY, 0) < args.cycles and time.monotonic() - began < args.max_seconds:
                await pilot.pause(0.5)
                now = time.monotonic()
                if states and now - last_note > 5:
                    await note(pilot, states, notes)
                    notes, last_note = notes + 1, now
                if now - last_sample > 30:
                    samples.append(figures())
                    last_sample = now
                if steady is None and history_full(engine):
                    steady = await floor(pilot)
            end = await floor(pilot)
            growth = []
            if first_snapshot is not None:
                stats = tracemalloc.take_snapshot().compare_to(first_snapshot, "lineno")
                growth = [str(stat) for stat in stats[:15]]
            # stop the engine and drain its last notices while the screens exist: a notice handled after
            # the screen stack emptied raised ScreenStackError in tui/app.py _show (reported to the lead)
            await asyncio.to_thread(engine.stop, 2.0)
            await pilot.pause(0.3)
        end["thread_names"] = sorted(thread.name for thread in threading.enumerate())
        return {"number": args.number, "start": start, "steady": steady, "end": end, "samples": samples,
                "notes_signed": notes,
                "polls_per_target": dict(sorted(polls.items())), "readings_per_target": dict(sorted(counts.items())), "error_texts": errors.records[:10],
                "problem_texts": problems[:10], "tracemalloc_top": growth,
                "ended_by": "cycles" if end["cycles"] >= args.cycles else "max-seconds"}

    began = time.monotonic()
    report = asyncio.run(main())
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


# ---------------------------------------------------------------- report


def summarize(result: dict) -> None:
    rows = []
    for child in result["children"]:
        start, end = child["start"], child["end"]
        rows.append({
            "dashboard": child["number"], "cycles": end["cycles"], "ended_by": child["ended_by"],
            "rss_start_mb": start["rss_mb"], "rss_end_mb": end["rss_mb"],
            "rss_growth_mb": round(end["rss_mb"] - start["rss_mb"], 2),
            "rss_steady_mb": child["steady"]["rss_mb"] if child.get("steady") else None,
            "rss_growth_after_history_full_mb": round(end["rss_mb"] - child["steady"]["rss_mb"], 2)
            if child.get("steady") else None,
            "tasks": f"{start['tasks_app']}+{start['tasks_engine']} -> {end['tasks_app']}+{end['tasks_engine']}",
            "threads": f"{start['os_threads']} -> {end['os_threads']}",
            "fds": f"{start['fds_not_sockets']}+{start['sockets']} -> {end['fds_not_sockets']}+{end['sockets']}",
            "history_readings": f"{start['history_readings']} -> {end['history_readings']}",
            "rss_kb_per_history_reading": round(1024 * (end["rss_mb"] - start["rss_mb"])
                                                / max(1, (end["history_readings"] or 0) - (start["history_readings"] or 0)), 2),
            "errors": end["errors_logged"] + end["problems"], "notes_signed": child["notes_signed"]})
    result["table"] = rows
    result["pass"] = {
        "rss_growth_under_10mb": all(r["rss_growth_mb"] < RSS_GROWTH_LIMIT_MB for r in rows),
        # the leak test proper: growth once the bounded history is full (None: it never filled in this run)
        "rss_flat_after_history_full": all(r["rss_growth_after_history_full_mb"] is not None
                                           and r["rss_growth_after_history_full_mb"] < 2.0 for r in rows),
        "no_task_growth": all(c["end"]["tasks_app"] <= c["start"]["tasks_app"]
                              and (c["end"]["tasks_engine"] or 0) <= (c["start"]["tasks_engine"] or 0)
                              for c in result["children"]),
        "no_thread_growth": all(c["end"]["os_threads"] <= c["start"]["os_threads"] for c in result["children"]),
        # files, pipes, eventfds: strictly; sockets (requests in flight): the end's floor within what the start saw
        "no_fd_growth": all(c["end"]["fds_not_sockets"] <= c["start"]["fds_not_sockets"]
                            and c["end"]["sockets"] <= c["start"]["max_of_looks"]["sockets"] for c in result["children"]),
        "no_errors": all(r["errors"] == 0 for r in rows),
        "cycles_reached": all(r["ended_by"] == "cycles" for r in rows),
    }
    print(f"\nsoak: {result['dashboards']} dashboards on one ledger, interval {result['interval_s']} s, "
          f"{result['stack_changes']} stack changes, {result['wall_s']:.0f} s, load {result['load_start']} -> "
          f"{result['load_end']}, {result['ledger_records']} ledger records")
    print(f"{'#':>2} {'cycles':>7} {'RSS start':>10} {'end':>8} {'growth':>7}  {'tasks app+engine':<18} "
          f"{'threads':<9} {'fds (files+sockets)':<20} {'history':<13} errors")
    for r in rows:
        print(f"{r['dashboard']:>2} {r['cycles']:>7} {r['rss_start_mb']:>9.1f}M {r['rss_end_mb']:>7.1f}M "
              f"{r['rss_growth_mb']:>+6.1f}M  {r['tasks']:<18} {r['threads']:<9} {r['fds']:<20} "
              f"{r['history_readings']:<13} {r['errors']}")
    print("pass: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["pass"].items()))
    for r in rows:
        if r["rss_steady_mb"] is not None:
            print(f"  dashboard {r['dashboard']}: history full at {r['rss_steady_mb']:.1f} MB; "
                  f"{r['rss_growth_after_history_full_mb']:+.1f} MB from there to the end")
    for child in result["children"]:
        print(f"  dashboard {child['number']} threads at the end: {', '.join(child['end']['thread_names'])}")
        for line in child["error_texts"] + child["problem_texts"]:
            print(f"  dashboard {child['number']}: {line}")
        for line in child["tracemalloc_top"]:
            print(f"  dashboard {child['number']} growth: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dashboards", type=int, default=3)
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=0.03, help="every service probe's interval, s (traffic: "
                        "at least 0.25 s, backups 1 s)")
    parser.add_argument("--max-seconds", type=float, default=450.0, help="a dashboard stops here if not at --cycles")
    parser.add_argument("--flap-every", type=float, default=2.0, help="s between two changes of the stack")
    parser.add_argument("--trace", action="store_true", help="tracemalloc in each dashboard: top growth lines")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "soak.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--number", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args)
    result = run_parent(args)
    summarize(result)
    args.results.parent.mkdir(exist_ok=True)
    args.results.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
