"""What the flight recorder, the replay and the timeline cost.

1. Recorder: the engine-thread cost of `Recorder.listener` per reading (a comparison and, for a
   change, a queue put), and the lines and bytes an hour of a demo-like deck writes: 200 targets
   polled every 5 s whose latencies move every poll, 2 % of readings changing status, for one
   simulated hour on a FixedClock (the writer thread writes a real file).
2. Replay: load_recording() of that hour, and ReplayEngine.seek() to the middle (backwards: a
   rebuild from the start) and 10 s forward.
3. Timeline: the TUI at 80x24 with 10,000 events in the engine's log (fake probes, no network):
   `t` until the list is drawn, one typed filter key, `end` and `home`. Timed with Pilot, median
   of --runs.

Writes bench/results/recorder_timeline.json and prints a table.

    .venv/bin/python bench/recorder_timeline.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from launchdeck.core.config import parse_config  # noqa: E402
from launchdeck.core.model import FixedClock, Reading, Status  # noqa: E402
from launchdeck.engine.events import EventLog  # noqa: E402
from launchdeck.engine.notices import ReadingNotice  # noqa: E402
from launchdeck.engine.recorder import Recorder  # noqa: E402
from launchdeck.engine.replay import ReplayEngine, load_recording  # noqa: E402
from launchdeck.engine.tracking import Track  # noqa: E402
from launchdeck.core.model import Verdict  # noqa: E402

TARGETS = 200
INTERVAL = 5.0
HOUR = 3600


def record_hour(path: Path) -> dict:
    clock, rng = FixedClock(), random.Random(7)
    events = EventLog()
    recorder = Recorder(path, clock=clock).start(events)
    status = {f"svc-{i:03d}": Status.OK for i in range(TARGETS)}
    verdict, costs = Verdict.from_readings(()), []
    for _ in range(int(HOUR / INTERVAL)):
        for target in status:
            if rng.random() < 0.02:
                status[target] = Status.WARN if status[target] is Status.OK else Status.OK
                events.add(clock.now(), "services", target, "change", status[target], "changed")
            latency = rng.uniform(0.005, 0.05)
            reading = Reading("services", target, status[target], f"HTTP 200 in {latency * 1000:.0f}ms",
                              {"latency_seconds": latency, "http_status": 200, "url": f"http://10.0.0.1/{target}"},
                              clock.now(), latency)
            notice = ReadingNotice(reading, Track(clock.now(), 0), verdict)
            started = time.perf_counter()
            recorder.listener(notice)
            costs.append(time.perf_counter() - started)
        clock.advance(INTERVAL)
    recorder.close(30)
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    return {"readings_seen": len(costs), "lines_written": recorder.written, "bytes": size, "lost": recorder.lost,
            "listener_us_median": statistics.median(costs) * 1e6,
            "listener_us_p99": sorted(costs)[int(len(costs) * 0.99)] * 1e6}


def replay_costs(path: Path) -> dict:
    started = time.perf_counter()
    recording = load_recording(path)
    loaded = time.perf_counter() - started
    config = parse_config("", "bench.toml", {})
    started = time.perf_counter()
    engine = ReplayEngine(recording, config)
    opened = time.perf_counter() - started
    engine.seek(engine.end_time)
    started = time.perf_counter()
    engine.seek(engine.start_time + (engine.end_time - engine.start_time) / 2)
    back = time.perf_counter() - started
    started = time.perf_counter()
    engine.step(10)
    forward = time.perf_counter() - started
    return {"lines": len(recording.readings) + len(recording.events), "load_s": loaded, "open_s": opened,
            "seek_back_to_middle_s": back, "step_10s_s": forward}


async def timeline_once(count: int = 10_000) -> dict:
    from tests.tui.helpers import app_with, mixed_probes, wait_until
    from launchdeck.tui.screens.timeline import EventList, TimelineScreen

    app = app_with(mixed_probes())
    times = {}
    async with app.run_test(size=(80, 24)) as pilot:
        events = app.engine.events
        await wait_until(pilot, lambda: events.last_seq >= 4)
        start = FixedClock().now()
        for i in range(count - events.last_seq):
            events.add(start + timedelta(seconds=i), "services", f"svc-{i % 100:03d}", "change", Status.WARN,
                       f"event {i}")
        began = time.perf_counter()
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TimelineScreen))
        await pilot.pause()
        times["open_s"] = time.perf_counter() - began
        await pilot.press("slash")
        began = time.perf_counter()
        await pilot.press("7")
        await pilot.pause()
        times["filter_key_s"] = time.perf_counter() - began
        assert len(app.screen.query_one(EventList).shown) < max(count, 5)
        await pilot.press("enter")
        for key in ("home", "end"):
            began = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            times[f"{key}_s"] = time.perf_counter() - began
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "rec.jsonl"
        recorder = record_hour(path)
        replay = replay_costs(path)
    runs = [asyncio.run(timeline_once()) for _ in range(args.runs)]
    timeline = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    timeline |= {f"{key}_max": max(run[key] for run in runs) for key in runs[0]}
    few = [asyncio.run(timeline_once(5)) for _ in range(args.runs)]  # the same keys with 5 events: the baseline
    baseline = {key: statistics.median(run[key] for run in few) for key in few[0]}
    result = {"recorder_hour_200_targets": recorder, "replay": replay, "timeline_10000_events": timeline,
              "timeline_5_events": baseline,
              "runs": args.runs, "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "recorder_timeline.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"recorder, 1 h of {TARGETS} targets every {INTERVAL:g}s: {recorder['readings_seen']} readings → "
          f"{recorder['lines_written']} lines, {recorder['bytes'] / 1e6:.1f} MB, lost {recorder['lost']}; "
          f"listener {recorder['listener_us_median']:.1f} µs median, {recorder['listener_us_p99']:.1f} µs p99")
    print(f"replay: load {replay['lines']} lines {replay['load_s']:.2f}s, open {replay['open_s']:.2f}s, "
          f"seek back to the middle {replay['seek_back_to_middle_s']:.2f}s, +10 s {replay['step_10s_s'] * 1e3:.1f} ms")
    print("timeline at 80x24, median of %d: 10,000 events (max) | 5 events" % args.runs)
    for key in runs[0]:
        print(f"  {key:14} {timeline[key] * 1e3:7.1f} ms ({timeline[key + '_max'] * 1e3:7.1f}) | "
              f"{baseline[key] * 1e3:7.1f} ms")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
