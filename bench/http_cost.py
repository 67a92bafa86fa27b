"""CPU per health check: the HTTP probe on httpx's default transport vs the lean plain-HTTP one.

Why it matters: the engine's loop spends this CPU on every request, and with 200 targets in one
cycle it is charged to every request in flight. A loopback server in its own process answers
`200 ok` and closes; `HttpProbe.collect()` runs --requests times after a warm-up, one at a time,
and the probe process's CPU time (time.process_time) is divided by the count. curl's wall time on
the same URL is printed beside it as the reference. Median of --rounds rounds.

Writes bench/results/http_cost.json and prints a table.

    .venv/bin/python bench/http_cost.py [--requests 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from launchdeck.core.config import parse_config
from launchdeck.probes.services import lean_http
from launchdeck.probes.services.http import HttpProbe

HERE = Path(__file__).resolve().parent
SERVER = r"""
import asyncio
async def handle(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


VARIANTS = {
    "default": "httpx default transport (httpcore)",
    "lean_client": "lean transport via AsyncClient.stream",
    "lean": "lean transport, prepared request",
}


def probe_for(url: str, lean: bool) -> HttpProbe:
    probe = HttpProbe(parse_config(f'[[services]]\nname = "web"\nurl = "{url}"\n', "bench.toml", {}).services[0], 5.0)
    if not lean:  # the default transport, as https:// or a proxied URL gets it
        probe._client = httpx.AsyncClient(timeout=probe.timeout, follow_redirects=False,
                                          limits=httpx.Limits(max_keepalive_connections=0))
    return probe


async def cpu_per_request(url: str, variant: str, requests: int) -> float:
    lean = variant != "default"
    probe = probe_for(url, lean)
    try:
        await probe.prepare()
        assert isinstance(probe._client._transport, lean_http.LeanTransport) is lean
        if variant == "lean_client":  # the lean transport behind the client's whole send path (until issue 14)
            probe._lean = None
        assert (probe._lean is not None) is (variant == "lean")
        for _ in range(30):
            await probe.collect()
        started = time.process_time()
        for _ in range(requests):
            outcome = await probe.collect()
        spent = time.process_time() - started
        assert outcome.values["http_status"] == 200, outcome
    finally:
        await probe.aclose()
    return spent / requests


def curl_seconds(url: str, count: int = 50) -> float:
    times = [float(subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", url],
                                  capture_output=True, text=True, check=True).stdout) for _ in range(count)]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/health"
        rounds = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):  # interleaved: a load change on this shared machine hits every variant
            for name in VARIANTS:
                rounds[name].append(asyncio.run(cpu_per_request(url, name, args.requests)))
        curl = curl_seconds(url)
    finally:
        server.kill()
        server.wait()
    result = {
        "machine": {"nproc": len(os.sched_getaffinity(0)), "python": platform.python_version(),
                    "httpx": httpx.__version__, "load_average": os.getloadavg()},
        "requests_per_round": args.requests,
        "cpu_ms_per_request": {name: [round(v * 1000, 3) for v in values] for name, values in rounds.items()},
        "median_cpu_ms_per_request": {name: round(statistics.median(v) * 1000, 3) for name, v in rounds.items()},
        "curl_wall_ms_median": round(curl * 1000, 3),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "http_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    median = result["median_cpu_ms_per_request"]
    print(f"{'HTTP probe, CPU per request':40} {'median':>8}  rounds")
    for name, label in VARIANTS.items():
        print(f"{label:40} {median[name]:>6.2f}ms  {', '.join(f'{v:.2f}' for v in result['cpu_ms_per_request'][name])}")
    print(f"{'curl, wall time (reference)':40} {result['curl_wall_ms_median']:>6.2f}ms")
    print(f"lean / default: {median['lean'] / median['default']:.2f}x   -> bench/results/http_cost.json")


if __name__ == "__main__":
    main()
