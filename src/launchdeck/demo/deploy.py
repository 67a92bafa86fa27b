"""The demo shop's deploy program: `python -m launchdeck.demo.deploy --state FILE [--database DB] VERSION`.

What `launchdeck demo --allow-actions` runs for deploy and rollback, so an action really changes the
demo stack: it writes the release into a small state file that the stack's traffic follows
(stack.py reads it every tick). v1 is healthy; v2 is a bad release on purpose: checkout answers 30 % 5xx, and its
migration loses half the orders in the demo database, which a rollback does not bring back (a
restore does). An unknown version is refused with exit 1 and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

# version -> {service: tunables}; whatever a release leaves out is the service's start-up value
RELEASES: dict[str, dict[str, dict[str, float]]] = {
    "v1": {"checkout": {"error_ratio": 0.005, "p95_ms": 150.0}},  # healthier than the read-only demo (warn)
    "v2": {"checkout": {"error_ratio": 0.30}},
}
MIGRATIONS = {"v2": ("0002 drop orders without a payment reference", "DELETE FROM orders WHERE id % 2 = 0")}
STEP_PAUSE = 0.3  # s between the lines a person watches stream by


def read_version(state: Path) -> str | None:
    """The release the state file names, or None (no file yet, or unreadable while being replaced)."""
    try:
        version = json.loads(state.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if version in RELEASES else None


def write_version(state: Path, version: str) -> None:
    """Atomically (a reader sees the old release or the new one, never half a file)."""
    partial = state.with_name(f".{state.name}.{os.getpid()}")
    partial.write_text(json.dumps({"version": version, "at": time.time()}), encoding="utf-8")
    os.replace(partial, state)


def _migrate(database: Path, version: str) -> None:
    name, statement = MIGRATIONS[version]
    with closing(sqlite3.connect(database)) as db, db:
        lost = db.execute(statement).rowcount
    print(f"migration {name}: {lost} rows affected", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launchdeck.demo.deploy", description=__doc__)
    parser.add_argument("--state", type=Path, required=True, help="the demo stack's release file")
    parser.add_argument("--database", type=Path, help="the demo shop's SQLite file (migrations)")
    parser.add_argument("version")
    args = parser.parse_args(argv)
    if args.version not in RELEASES:
        print(f"no release {args.version!r} (known: {', '.join(RELEASES)}); nothing changed", file=sys.stderr)
        return 1
    running = read_version(args.state)
    print(f"deploying {args.version} (running: {running or 'nothing recorded'})", flush=True)
    for service, changes in sorted(RELEASES[args.version].items()):
        print(f"  {service}: {', '.join(f'{k} {v:g}' for k, v in changes.items())}", flush=True)
    time.sleep(STEP_PAUSE)
    if args.version in MIGRATIONS and args.database is not None:
        _migrate(args.database, args.version)
    write_version(args.state, args.version)
    time.sleep(STEP_PAUSE)
    print(f"{args.version} is live", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
