"""What a durable sign-off costs on this machine, and how long checking a big ledger takes.

Append: `Ledger.append` with its flock + one O_APPEND write + fsync, timed one by one on a fresh
file, next to the bare syscalls (os.write + os.fsync on an O_APPEND descriptor) as the floor, and
again on the end of a 100k-record file (an append reads only the tail, so it must not slow down).
Verify: `verify()` over 100k records written by the real `Ledger.append` (fsync switched off while
generating: the bytes are the same, only faster to produce), plus `records()` / a first
`read_new()` (what a dashboard does at start-up) over the same file.

Writes bench/results/ledger.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from launchdeck.audit import ledger as ledger_module
from launchdeck.audit.ledger import Ledger, Operator, verify

HERE = Path(__file__).resolve().parent
OPERATOR = Operator("bench", os.getuid(), platform.node(), None)


def summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)

    def pick(quantile: float) -> float:
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1e3

    return {"n": len(ordered), "p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99),
            "max_ms": ordered[-1] * 1e3, "mean_ms": statistics.fmean(ordered) * 1e3}


def sign(ledger: Ledger, n: int) -> None:
    ledger.append(checklist="launch-day.md", item_id=f"launch-day/deploy/item-{n}",
                  item_text="Deploy v1.4.2 to production and watch the error rate for 10 minutes", kind="sign",
                  reason=None, evidence={"probe": "traffic", "error_ratio": 0.0031, "p95_ms": 212} if n % 4 == 0
                  else None)


def timed_appends(ledger: Ledger, count: int, start: int = 0) -> list[float]:
    seconds = []
    for n in range(start, start + count):
        began = time.perf_counter()
        sign(ledger, n)
        seconds.append(time.perf_counter() - began)
    return seconds


def paired(ledger: Ledger, bare: Path, line: bytes, count: int) -> tuple[list[float], list[float]]:
    """Ledger.append and the floor (os.write + os.fsync of the same bytes on an O_APPEND descriptor,
    no Python logic around it) taken turn about, so both see the same disk and the same neighbours."""
    fd = os.open(bare, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    appends, floor = [], []
    try:
        for n in range(count):
            began = time.perf_counter()
            os.write(fd, line)
            os.fsync(fd)
            floor.append(time.perf_counter() - began)
            appends += timed_appends(ledger, 1, n)
    finally:
        os.close(fd)
    return appends, floor


def without_fsync(ledger: Ledger, count: int) -> list[float]:
    """The CPU side alone: the same appends with fsync switched off."""
    real_fsync = ledger_module.os.fsync
    ledger_module.os.fsync = lambda fd: None
    try:
        return timed_appends(ledger, count)
    finally:
        ledger_module.os.fsync = real_fsync


def generate(path: Path, count: int) -> float:
    """`count` records through the real append, fsync off (then one fsync at the end)."""
    real_fsync = ledger_module.os.fsync
    ledger = Ledger(path, operator=OPERATOR)
    began = time.perf_counter()
    ledger_module.os.fsync = lambda fd: None
    try:
        for n in range(count):
            sign(ledger, n)
    finally:
        ledger_module.os.fsync = real_fsync
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - began


def best_of(runs: int, call) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the test ledgers go (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-", dir=args.dir))
    try:
        probe = work / "probe.jsonl"
        sign(Ledger(probe, operator=OPERATOR), 0)
        line_bytes = probe.read_bytes()
        fresh = Ledger(work / "fresh.jsonl", operator=OPERATOR)
        sign(fresh, -1)  # the file exists: measure appends, not the one-off create + directory fsync
        appends, floor = map(summary, paired(fresh, work / "bare.jsonl", line_bytes, args.appends))
        cpu_only = summary(without_fsync(Ledger(work / "nofsync.jsonl", operator=OPERATOR), args.appends))

        big = work / "big.jsonl"
        generated = generate(big, args.records)
        size = big.stat().st_size
        verify_s, result = best_of(3, lambda: verify(big))
        assert result.ok and result.records == args.records, result
        records_s, records = best_of(3, lambda: Ledger(big, operator=OPERATOR).records())
        assert len(records) == args.records
        read_new_s, _ = best_of(3, lambda: Ledger(big, operator=OPERATOR).read_new())
        on_big = summary(timed_appends(Ledger(big, operator=OPERATOR), min(500, args.appends), args.records))
    finally:
        shutil.rmtree(work)

    results = {
        "machine": {"python": sys.version.split()[0], "cpus": os.cpu_count(), "platform": platform.platform(),
                    "filesystem_dir": str(args.dir or tempfile.gettempdir())},
        "append_fsync": appends,
        "bare_write_fsync": floor,
        "append_without_fsync": cpu_only,
        "append_fsync_on_100k_file": on_big,
        "record_bytes": len(line_bytes),
        "big_ledger": {"records": args.records, "bytes": size, "generate_s_without_fsync": generated,
                       "verify_s": verify_s, "verify_us_per_record": verify_s / args.records * 1e6,
                       "records_s": records_s, "first_read_new_s": read_new_s},
    }
    out = HERE / "results" / "ledger.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")

    print(f"ledger bench ({os.cpu_count()} cpus, python {results['machine']['python']}); {out}")
    print(f"{'append (flock + write + fsync)':<40} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, row in (("Ledger.append, fresh file", appends), ("bare os.write + os.fsync (floor)", floor),
                      ("Ledger.append with fsync off (CPU)", cpu_only),
                      (f"Ledger.append, {args.records:,}-record file", on_big)):
        print(f"{name:<40} {row['p50_ms']:>8.3f} {row['p90_ms']:>8.3f} {row['p99_ms']:>8.3f} {row['max_ms']:>8.2f}")
    b = results["big_ledger"]
    print(f"{args.records:,} records, {size / 1e6:.1f} MB: generated in {generated:.1f} s (fsync off); "
          f"verify {verify_s:.2f} s ({b['verify_us_per_record']:.1f} us/record); records() {records_s:.2f} s; "
          f"first read_new() {read_new_s:.2f} s")


if __name__ == "__main__":
    main()
