"""The demo shop's restore program: `python -m launchdeck.demo.restore {safety|restore|check} --database DB`.

The three steps of the demo's `[actions.restore]` runbook (seed 003: a safety copy before the
restore, then the restore, then a check that the database answers). The database is a SQLite file;
the dumps are the demo's gzip SQL files. `restore` takes the dump launchdeck chose from the
`main_db` backups list (`{backup}`: its path, or `newest`); launchdeck already refused anything not
listed, and this refuses again any file that is not directly inside --backups.
The new database is built beside the old one and moved into place, so a failed restore leaves the
old file as it was.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

SOURCE = "main_db"  # the [[backups]] source the demo's database is dumped to


def newest_dump(folder: Path) -> Path | None:
    dumps = sorted(folder.glob(f"{SOURCE}_*.sql.gz"))  # the name carries the time: sorted is by age
    return dumps[-1] if dumps else None


def load_dump(database: Path, dump: Path) -> int:
    """Build `database` from the dump (a temp file moved into place); the number of orders."""
    building = database.with_name(f".{database.name}.restoring")
    building.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(building)) as db:
            db.executescript(gzip.decompress(dump.read_bytes()).decode("utf-8"))
            rows = db.execute("SELECT count(*) FROM orders").fetchone()[0]
        os.replace(building, database)
    finally:
        building.unlink(missing_ok=True)
    return rows


def orders(database: Path) -> int:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return db.execute("SELECT count(*) FROM orders").fetchone()[0]


def _safety(database: Path) -> int:
    copy = database.with_name(f"{database.stem}.before-restore-{time.strftime('%Y%m%d_%H%M%S')}{database.suffix}")
    shutil.copy2(database, copy)
    print(f"safety copy: {copy} ({orders(copy)} orders)", flush=True)
    return 0


def _restore(database: Path, folder: Path | None, name: str) -> int:
    if folder is None:
        print("restore needs --backups DIR", file=sys.stderr)
        return 2
    dump = newest_dump(folder) if name == "newest" else folder / name  # an absolute name replaces folder
    inside = dump is not None and dump.resolve().parent == folder.resolve() and not dump.name.startswith(".")
    if dump is None or not inside or not dump.is_file():
        print(f"no dump {name!r} in {folder}; nothing changed", file=sys.stderr)
        return 1
    print(f"restoring {dump.name} into {database}", flush=True)
    print(f"restored: {load_dump(database, dump)} orders", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launchdeck.demo.restore", description=__doc__)
    parser.add_argument("step", choices=("safety", "restore", "check"))
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--backups", type=Path, help="the folder of dumps (restore)")
    parser.add_argument("dump", nargs="?", default="newest", help="a dump in --backups (its path or name), or newest")
    args = parser.parse_intermixed_args(argv)  # the dump comes after the options
    try:
        if args.step == "safety":
            return _safety(args.database)
        if args.step == "restore":
            return _restore(args.database, args.backups, args.dump)
        print(f"{args.database}: answers, {orders(args.database)} orders", flush=True)
        return 0
    except (OSError, sqlite3.Error, ValueError) as error:
        print(f"{args.step}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
