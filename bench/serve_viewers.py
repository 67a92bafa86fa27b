"""What `launchdeck serve` costs per viewer, and how fast it stops with viewers open.

Starts the real `launchdeck serve` (tests/integration/serve_helpers.py: two loopback services polled
every second, traffic scraped from /metrics, no checklists) and, for 0, 1, 10 and 20 event-stream
viewers (plain HTTP clients, as many browsers would be), measures over --seconds each: the server
process's CPU (utime+stime from /proc) as % of one core, its RSS, the target's requests per second
(one engine: this must not grow with viewers) and the bytes each viewer received per second.
Then, --runs times: SIGTERM with 20 viewers open until the process has exited, and a new
viewer's time to its first event. Also: `import aiohttp` in a fresh interpreter (median of 5).

Writes bench/results/serve_viewers.json and prints a table with the load average.

    .venv/bin/python bench/serve_viewers.py [--seconds 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.integration.serve_helpers import EventStream, Served, Target, write_config

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class CountingStream(EventStream):
    """A viewer that also counts the bytes it receives."""

    def run(self) -> None:
        self.bytes = 0
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                self.bytes += len(line)
                if line.startswith(b"event: wall"):
                    self.events += 1
                elif line.startswith(b"event: closing"):
                    self.closing = True
        except OSError:
            return
        finally:
            self.connection.close()
            self.ended.set()


def measure(served: Served, target: Target, viewers: int, seconds: float) -> dict:
    streams = [CountingStream(served) for _ in range(viewers)]
    for stream in streams:
        stream.start()
    time.sleep(2)  # connections settled
    pid = served.process.pid
    cpu0, requests0, t0 = cpu_seconds(pid), target.count(), time.monotonic()
    bytes0 = [getattr(s, "bytes", 0) for s in streams]
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    row = {"viewers": viewers, "cpu_percent": round(100 * (cpu_seconds(pid) - cpu0) / elapsed, 2),
           "rss_mb": round(rss_mb(pid), 1), "target_requests_per_s": round((target.count() - requests0) / elapsed, 2),
           "bytes_per_viewer_per_s": round(statistics.mean(getattr(s, "bytes", 0) - b for s, b in zip(streams, bytes0))
                                           / elapsed, 1) if streams else 0.0,
           "all_fed": all(s.events > 0 for s in streams)}
    for stream in streams:
        stream.close()
    time.sleep(0.5)
    return row


def stop_time(config: Path, viewers: int) -> tuple[float, float]:
    """(s from SIGTERM to exit with `viewers` open, s for a new viewer's first event)."""
    served = Served(config)
    time.sleep(2)
    started = time.monotonic()
    first = CountingStream(served)
    first.start()
    while first.events == 0 and time.monotonic() - started < 10:
        time.sleep(0.005)
    first_event = time.monotonic() - started
    streams = [CountingStream(served) for _ in range(viewers - 1)]
    for stream in streams:
        stream.start()
    time.sleep(1)
    sent = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    served.process.wait(timeout=20)
    took = time.monotonic() - sent
    served.stop()
    return took, first_event


def import_time(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        code = "import time; t=time.perf_counter(); import aiohttp.web; print(time.perf_counter()-t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        target, payments = Target(), Target()
        config = write_config(Path(directory), target, payments, checklists=False)
        served = Served(config, "--max-viewers", "50")
        try:
            for viewers in (0, 1, 10, 20):
                rows.append(measure(served, target, viewers, args.seconds))
        finally:
            served.stop()
        stops = [stop_time(config, 20) for _ in range(args.runs)]
        target.stop()
        payments.stop()
    result = {
        "rows": rows,
        "sigterm_to_exit_s_with_20_viewers": {"median": round(statistics.median(s for s, _ in stops), 3),
                                               "max": round(max(s for s, _ in stops), 3)},
        "first_event_s": {"median": round(statistics.median(f for _, f in stops), 3)},
        "import_aiohttp_web_s": round(import_time(), 3),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "seconds_per_row": args.seconds,
    }
    out = HERE / "results" / "serve_viewers.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'viewers':>7} {'cpu %':>6} {'rss MB':>7} {'target req/s':>12} {'B/viewer/s':>10}")
    for row in rows:
        print(f"{row['viewers']:>7} {row['cpu_percent']:>6} {row['rss_mb']:>7} {row['target_requests_per_s']:>12} "
              f"{row['bytes_per_viewer_per_s']:>10}")
    print(f"SIGTERM -> exit with 20 viewers: {result['sigterm_to_exit_s_with_20_viewers']} s; first event "
          f"{result['first_event_s']} s; import aiohttp.web {result['import_aiohttp_web_s']} s")
    print(f"load average before {load_before}, after {result['loadavg_after']}; wrote {out}")


if __name__ == "__main__":
    main()
