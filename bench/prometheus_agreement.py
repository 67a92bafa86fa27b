"""Does launchdeck's traffic panel say what Prometheus says, and what does a poll cost?

One real Prometheus (the Debian binary) scrapes several test exporters at 1 s, one job each, with
different error ratios and latency distributions (the exporter of
tests/integration/test_prometheus_traffic.py: exact counts, not random). For ~40 s every
PrometheusTrafficProbe polls every 2 s, all at once as on the dashboard (so they share the
daemon-thread pool); after each poll the same PromQL is asked of Prometheus directly (httpx) at
the probe's own evaluation time. Reported per scenario: the largest relative difference
launchdeck vs Prometheus, the final values next to the exporter's true settings, and the latency
of collect(). Also: what the literal brief query (no `or vector(0)`) says about a 0 % service.

Writes bench/results/prometheus_agreement.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the exporter lives with the integration tests

from launchdeck.core.config import PrometheusConfig, TrafficConfig  # noqa: E402
from launchdeck.core.model import SystemClock  # noqa: E402
from launchdeck.engine.polling import collect_once  # noqa: E402
from launchdeck.probes.traffic.prometheus import PrometheusTrafficProbe  # noqa: E402
from tests.integration.test_prometheus_traffic import TrafficExporter, free_port, uniform  # noqa: E402

WINDOW = "30s"
METRICS = (("error_ratio", "error_ratio"), ("p95", "p95_seconds"), ("rate", "rate_rps"))


def exponential(mean: float) -> Callable[[float], float]:
    return lambda u: -mean * math.log(1 - u)


# name, rps, error ratio, latency quantile function, its description
SCENARIOS = [
    ("steady-1%", 200.0, 0.01, uniform(0.1, 0.5), "uniform 100-500ms"),
    ("launch-3%", 200.0, 0.03, uniform(0.05, 0.45), "uniform 50-450ms"),
    ("bad-8%", 100.0, 0.08, exponential(0.15), "exponential mean 150ms"),
    ("clean-0%", 50.0, 0.0, uniform(0.01, 0.09), "uniform 10-90ms"),
    ("idle", 0.0, 0.0, uniform(0.1, 0.5), "no requests"),
]


class RecordingClock(SystemClock):
    def __init__(self) -> None:
        self.last = None

    def now(self):  # type: ignore[no-untyped-def]
        self.last = super().now()
        return self.last


def start_prometheus(targets: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    jobs = "".join(f"  - job_name: {json.dumps(job)}\n    static_configs:\n      - targets: [{json.dumps(t)}]\n"
                   for job, t in targets.items())
    (workdir / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n{jobs}")
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={workdir / 'prometheus.yml'}",
                             f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"prometheus did not become ready; see {workdir / 'prometheus.log'}")


def direct(url: str, query: str, at: str) -> float | None:
    body = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": at}, timeout=5).json()
    result = body["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return value if math.isfinite(value) else None


def rel(ours: float | None, theirs: float | None) -> float | None:
    """Relative difference; 0 when both say "no data", None (a disagreement) when only one does."""
    if ours is None or theirs is None:
        return 0.0 if ours is theirs else None
    return abs(ours - theirs) / abs(theirs) if theirs else abs(ours - theirs)


def wait_for_data(url: str, jobs: list[str], timeout: float = 30) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        seen = [direct(url, f'count_over_time(up{{job="{job}"}}[1m])', f"{time.time():.3f}") or 0 for job in jobs]
        if min(seen) >= 2:
            return time.monotonic() - began
        time.sleep(0.25)
    raise SystemExit("prometheus never scraped the exporters")


async def poll_all(url: str, probes: dict[str, tuple[PrometheusTrafficProbe, RecordingClock]], seconds: float,
                   every: float) -> dict[str, list[dict[str, Any]]]:
    polls: dict[str, list[dict[str, Any]]] = {name: [] for name in probes}
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        tick = time.monotonic()
        readings = await asyncio.gather(*(collect_once(probe) for probe, _ in probes.values()))
        for (name, (probe, clock)), reading in zip(probes.items(), readings):
            at = f"{clock.last.timestamp():.3f}"
            theirs = {value: direct(url, probe.queries[key], at) for key, value in METRICS}
            ours = {value: reading.values.get(value) for _, value in METRICS}
            polls[name].append({"at": at, "status": reading.status.value, "reason": reading.reason,
                                "collect_ms": reading.duration * 1000, "launchdeck": ours, "prometheus": theirs,
                                "rel_diff": {m: rel(ours[m], theirs[m]) for m in ours}})
        await asyncio.sleep(max(0.0, every - (time.monotonic() - tick)))
    return polls


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "max_ms": ordered[-1],
            "mean_ms": statistics.fmean(ordered)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="polling time after the first scrapes")
    parser.add_argument("--every", type=float, default=2.0, help="poll interval")
    args = parser.parse_args()

    exporters = {name: TrafficExporter(rps=rps, error_ratio=err, not_found_ratio=0.02, latency=lat)
                 for name, rps, err, lat, _ in SCENARIOS}
    for exporter in exporters.values():
        if exporter.rps:
            exporter.start()
    workdir = Path(tempfile.mkdtemp(prefix="launchdeck-bench-prom-"))
    proc, url = start_prometheus({name: e.target for name, e in exporters.items()}, workdir)
    try:
        first_scrapes = wait_for_data(url, list(exporters))
        prom = PrometheusConfig(url=url)
        probes = {}
        for name, *_ in SCENARIOS:
            clock = RecordingClock()
            spec = TrafficConfig(name=name, window=WINDOW, error_ratio_warn="10%", error_ratio_crit="20%",
                                 p95_warn="1s", p95_crit="2s")
            probes[name] = (PrometheusTrafficProbe(spec, prom, args.every, clock), clock)
        polls = asyncio.run(poll_all(url, probes, args.seconds, args.every))
        solo_name = SCENARIOS[0][0]
        solo = asyncio.run(poll_all(url, {solo_name: probes[solo_name]}, 5.0, 0.25))[solo_name]
        at = f"{time.time() - 1:.3f}"
        literal = ('sum(rate(http_requests_total{job="clean-0%",code=~"5.."}[30s]))'
                   ' / sum(rate(http_requests_total{job="clean-0%"}[30s]))')
        literal_zero = {"query": literal, "prometheus": direct(url, literal, at),
                        "launchdeck_query_says": direct(url, probes["clean-0%"][0].queries["error_ratio"], at)}

        async def close() -> None:
            for probe, _ in probes.values():
                await probe.aclose()

        asyncio.run(close())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        for exporter in exporters.values():
            exporter.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    scenarios = []
    all_latencies: list[float] = []
    for name, rps, err, lat, shape in SCENARIOS:
        runs = polls[name]
        latencies = [p["collect_ms"] for p in runs]
        all_latencies += latencies[1:]  # the first poll also builds the client (import in a thread)
        diffs = {m: [p["rel_diff"][m] for p in runs] for _, m in METRICS}
        last = runs[-1]
        scenarios.append({
            "name": name, "latency": shape, "truth": {
                "error_ratio": err if rps else None, "p95_seconds": round(lat(0.95), 6) if rps else None,
                "rate_rps": rps},
            "polls": len(runs),
            "disagreements": sum(1 for m in diffs.values() for d in m if d is None),
            "max_rel_diff": {m: max((d for d in v if d is not None), default=None) for m, v in diffs.items()},
            "final": {"status": last["status"], "reason": last["reason"], "launchdeck": last["launchdeck"],
                      "prometheus": last["prometheus"]},
            "collect_ms": quantiles(latencies),
            "first_collect_ms": latencies[0],
        })
    results = {
        "bench": "prometheus_agreement",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "prometheus": "2.42 (Debian)"},
        "setup": {"window": WINDOW, "scrape_interval": "1s", "poll_every_s": args.every, "seconds": args.seconds,
                  "first_scrapes_after_s": round(first_scrapes, 1), "probes_polled_together": len(SCENARIOS)},
        "scenarios": scenarios,
        "collect_ms_all_but_first": quantiles(all_latencies),
        "collect_ms_one_probe_alone": quantiles([p["collect_ms"] for p in solo]),
        "solo_disagreements": sum(1 for p in solo for d in p["rel_diff"].values() if d != 0.0),
        "zero_error_service": literal_zero,
    }
    out = HERE / "results" / "prometheus_agreement.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, out)


def fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    return {"error_ratio": f"{value * 100:.2f}%", "p95_seconds": f"{value * 1000:.0f}ms",
            "rate_rps": f"{value:.1f}/s"}[kind]


def print_table(results: dict[str, Any], out: Path) -> None:
    print(f"launchdeck vs Prometheus, same PromQL at the same instant ({results['setup']['window']} window, "
          f"{results['scenarios'][0]['polls']} polls each, {len(results['scenarios'])} probes together); {out}")
    print(f"{'scenario':<10} {'metric':<12} {'truth':>9} {'launchdeck':>11} {'prometheus':>11} {'max rel diff':>13}")
    for s in results["scenarios"]:
        for _, m in METRICS:
            diff = s["max_rel_diff"][m]
            shown = "—" if diff is None else f"{diff:.2e}" if diff else "0 (exact)"
            print(f"{s['name']:<10} {m:<12} {fmt(s['truth'][m], m):>9} {fmt(s['final']['launchdeck'][m], m):>11} "
                  f"{fmt(s['final']['prometheus'][m], m):>11} {shown:>13}")
        print(f"{'':<10} {s['final']['status']}: {s['final']['reason']}; disagreements {s['disagreements']}; "
              f"collect p50 {s['collect_ms']['p50_ms']:.1f} ms, max {s['collect_ms']['max_ms']:.1f} ms "
              f"(first {s['first_collect_ms']:.1f} ms)")
    c = results["collect_ms_all_but_first"]
    print(f"collect() over all probes (first poll excluded): p50 {c['p50_ms']:.1f} ms, p95 {c['p95_ms']:.1f} ms, "
          f"max {c['max_ms']:.1f} ms, n={c['n']}")
    c = results["collect_ms_one_probe_alone"]
    print(f"collect() of one probe alone: p50 {c['p50_ms']:.1f} ms, p95 {c['p95_ms']:.1f} ms, "
          f"max {c['max_ms']:.1f} ms, n={c['n']}; polls not exactly equal to Prometheus: "
          f"{results['solo_disagreements']}")
    z = results["zero_error_service"]
    print(f"0 % service: the literal brief query says {z['prometheus']}, launchdeck's (or vector(0)) says "
          f"{z['launchdeck_query_says']}")


if __name__ == "__main__":
    main()
