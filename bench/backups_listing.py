"""What one Backups panel refresh costs for a directory of 10,000 dumps, here and over SSH.

Creates N empty files (`main_db_NNNNN.sql.gz`, mtimes a minute apart) in a temp dir, then times
`BackupProbe.collect()` (one `find` run + parse + judge) locally and over the loopback sshd of
`scripts/services.sh up` (same filesystem; the connection is warmed first, as on the dashboard,
where the pool keeps it open). Baselines, on the same directory: `ls -l DIR | wc -l`, the bare
`find` the probe runs (its script, output to a pipe we drain), the same `find` over the warm SSH
connection, `true` over SSH (the round trip alone), and parse_listing on captured output alone.
Median (and min / max) of --runs runs after one warm-up each. The issue's bar: refresh < 1 s.

Writes bench/results/backups_listing.json and prints a table.

    .venv/bin/python bench/backups_listing.py [--files 10000] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Awaitable, Callable

from launchdeck.probes.backups.listing import list_argv, parse_listing
from launchdeck.core.config import BackupConfig, HostConfig
from launchdeck.core.model import Status
from launchdeck.probes.backups.probe import BackupProbe
from launchdeck.run.ssh import Connections

HERE = Path(__file__).resolve().parent
SERVICES_JSON = HERE.parent / ".services" / "services.json"
PATTERN = "main_db_*.sql.gz"
BAR_SECONDS = 1.0


def make_files(directory: Path, count: int) -> None:
    base = time.time() - count * 60 - 3600
    for i in range(count):
        path = directory / f"main_db_{i:05d}.sql.gz"
        path.touch()
        os.utime(path, (base + 60 * i, base + 60 * i))


def loopback_host() -> HostConfig:
    try:
        ssh = json.loads(SERVICES_JSON.read_text())["ssh"]
    except (OSError, ValueError, KeyError) as error:
        sys.exit(f"no sshd described in {SERVICES_JSON} ({error}); run `bash scripts/services.sh up`")
    return HostConfig(name="loopback", address=ssh["host"], port=int(ssh["port"]), user=ssh["username"],
                      key=ssh["client_key"], known_hosts=ssh["known_hosts"], connect_timeout=5)


async def timed(action: Callable[[], Awaitable[object]], runs: int) -> tuple[dict, object]:
    """One warm-up, then `runs` timed calls: median/min/max in ms, and the last result."""
    result = await action()
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        result = await action()
        seconds.append(time.perf_counter() - began)
    return ({"runs": runs, "median_ms": statistics.median(seconds) * 1e3, "min_ms": min(seconds) * 1e3,
             "max_ms": max(seconds) * 1e3}, result)


def shell(command: list[str]) -> Callable[[], Awaitable[str]]:
    async def run() -> str:
        process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{command} failed: {stderr.decode()[-300:]}")
        return stdout.decode("utf-8", "replace")
    return run


async def measure(directory: Path, count: int, runs: int) -> dict:
    host = loopback_host()
    local_spec = BackupConfig(name="dumps", path=str(directory), pattern=PATTERN, timeout="30s")
    remote_spec = local_spec.model_copy(update={"host": host.name})
    rows: dict[str, dict] = {}
    async with Connections() as connections:
        local_probe = BackupProbe(local_spec)
        remote_probe = BackupProbe(remote_spec, host, connections)
        rows["probe local: BackupProbe.collect()"], local = await timed(local_probe.collect, runs)
        rows["probe ssh (warm): BackupProbe.collect()"], remote = await timed(remote_probe.collect, runs)
        for outcome, where in ((local, "local"), (remote, "ssh")):
            if outcome.status is not Status.OK or outcome.values["count"] != count:
                raise SystemExit(f"{where} probe read {outcome.values.get('count')} files: {outcome.reason}")
        argv = list_argv(str(directory), PATTERN)
        rows["baseline local: ls -l | wc -l"], _ = await timed(shell(["sh", "-c", f"ls -l '{directory}' | wc -l"]),
                                                              runs)
        rows["baseline local: the probe's find alone"], output = await timed(shell(argv), runs)
        rows["baseline ssh (warm): the probe's find alone"], run = await timed(
            lambda: connections.run(host, argv, 30), runs)
        rows["baseline ssh (warm): `true` round trip"], _ = await timed(lambda: connections.run(host, ["true"], 30),
                                                                       runs)

        async def parse_only():
            return parse_listing(run, str(directory), PATTERN)
        rows["parse_listing alone (captured output)"], listing = await timed(parse_only, runs)
        assert len(listing.backups) == count
    return {"rows": rows, "output_bytes": len(output.encode()), "newest": local.values["newest"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None, help="where the test directory goes (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backups-bench-", dir=args.dir))
    try:
        began = time.perf_counter()
        make_files(work, args.files)
        created_s = time.perf_counter() - began
        measured = asyncio.run(measure(work, args.files, args.runs))
    finally:
        shutil.rmtree(work)

    rows = measured["rows"]
    worst = max(rows["probe local: BackupProbe.collect()"]["median_ms"],
                rows["probe ssh (warm): BackupProbe.collect()"]["median_ms"])
    results = {
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count(), "platform": platform.platform(),
                    "filesystem_dir": str(args.dir or tempfile.gettempdir())},
        "files": args.files, "created_s": created_s, "listing_bytes": measured["output_bytes"],
        "timings": rows, "bar_seconds": BAR_SECONDS, "meets_bar": worst < BAR_SECONDS * 1e3,
    }
    out = HERE / "results" / "backups_listing.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")

    print(f"backups listing bench: {args.files:,} files ({measured['output_bytes'] / 1e3:.0f} kB of listing), "
          f"{args.runs} runs after a warm-up ({os.cpu_count()} cpus, python {results['machine']['python']}); {out}")
    print(f"{'':<46} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, row in rows.items():
        print(f"{name:<46} {row['median_ms']:>10.1f} {row['min_ms']:>8.1f} {row['max_ms']:>8.1f}")
    print(f"panel refresh < {BAR_SECONDS:g} s for {args.files:,} files: "
          f"{'MET' if results['meets_bar'] else 'NOT MET'} (slowest median {worst:.0f} ms)")


if __name__ == "__main__":
    main()
