"""The demo's backups: a directory of real gzip dumps, one source fresh and one stale.

`main_db` has a dump from 2 h ago (with a correct .sha256 beside it), 26 h and 50 h ago;
`ai_db` stopped two days ago, so its newest is 40 h old: crit against max_age 26h. The files
are real gzip streams of SQL (an `orders` table, fewer rows the older the dump), so `v` in the
dashboard really verifies them and the demo's restore (demo/restore.py) really loads them. Names carry the time
(`main_db_YYYYmmdd_HHMMSS.sql.gz`, as the seeds' backup script writes them) and mtimes match.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from datetime import datetime, timezone
from pathlib import Path

SOURCES = {"main_db": (2, 26, 50), "ai_db": (40, 64)}  # hours old
STAMP = "%Y%m%d_%H%M%S"
ORDERS = 480  # rows in the newest dump


def dump_sql(source: str, rows: int) -> str:
    """A plain SQL dump (what `pg_dump` writes for a small table, in SQL SQLite also reads)."""
    values = ",\n".join(f"({i}, 'customer-{i % 97}', {1000 + (i * 37) % 9000})" for i in range(1, rows + 1))
    return (f"-- demo dump of {source}\nBEGIN;\nCREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, "
            f"cents INTEGER);\nINSERT INTO orders VALUES\n{values};\nCOMMIT;\n")


def make_backups(directory: Path, now: float | None = None) -> Path:
    """Create the dumps under directory/backups; return that folder."""
    folder = directory / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    for source, ages in SOURCES.items():
        for index, hours in enumerate(ages):
            moment = now - hours * 3600
            name = f"{source}_{datetime.fromtimestamp(moment, timezone.utc).strftime(STAMP)}.sql.gz"
            body = dump_sql(source, ORDERS - 40 * index)
            path = folder / name
            path.write_bytes(gzip.compress(body.encode(), mtime=int(moment)))
            os.utime(path, (moment, moment))
            if index == 0 and source == "main_db":
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                (folder / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    return folder


def config_lines(folder: Path) -> list[str]:
    lines = ["# dumps written by the demo: main_db is fresh, ai_db stopped two days ago"]
    for source in SOURCES:
        lines += ["[[backups]]", f'name = "{source}"', f'path = "{folder}"', f'pattern = "{source}_*.sql.gz"',
                  f'name_time = "{STAMP}"', 'max_age = "26h"', ""]
    return lines
