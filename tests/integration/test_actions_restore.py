"""The built-in PostgreSQL restore against the real server: known rows, a dump, rows changed, restore
through `launchdeck act restore`, rows back; the safety dump is there and restores the changed rows;
the password appears nowhere (output, log file, ledger)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from launchdeck.audit.chain import verify
from launchdeck.audit.ledger import Ledger
from launchdeck.cli.act import act

pytestmark = pytest.mark.integration
ROWS = [(1, "alpha"), (2, "beta"), (3, "gamma")]


def parts(dsn: str) -> dict:
    from psycopg.conninfo import conninfo_to_dict

    return conninfo_to_dict(dsn)


def tool_env(dsn: str) -> dict:
    return {**os.environ, "PGPASSWORD": str(parts(dsn)["password"])}


def no_password(dsn: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**{k: v for k, v in parts(dsn).items() if k != "password"})


def rows(dsn: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()


@pytest.fixture
def seeded(pg_dsn: str, tmp_path: Path) -> tuple[str, Path]:
    """The scratch database with known rows, and a custom-format dump of it in a backups folder."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS items")
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
        conn.cursor().executemany("INSERT INTO items VALUES (%s, %s)", ROWS)
    backups = tmp_path / "backups"
    backups.mkdir()
    subprocess.run(["pg_dump", "-Fc", "-f", str(backups / "main_db_20260101_000000.dump"), f"--dbname={no_password(pg_dsn)}"],
                   check=True, env=tool_env(pg_dsn))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM items WHERE id = 1")
        conn.execute("UPDATE items SET name = 'changed' WHERE id = 2")
        conn.execute("INSERT INTO items VALUES (4, 'new')")
    return pg_dsn, backups


def write_config(tmp_path: Path, backups: Path, pattern: str = "main_db_*.dump") -> Path:
    path = tmp_path / "launchdeck.toml"
    path.write_text(f'''[deck]
environment = "staging"
[[backups]]
name = "main_db"
path = {json.dumps(str(backups))}
pattern = "{pattern}"
[actions]
enabled = true
[actions.restore]
kind = "postgres"
dsn = "${{LD_RESTORE_DSN}}"
backups = "main_db"
''')
    return path


CHANGED = [(2, "changed"), (3, "gamma"), (4, "new")]


def test_restore_puts_the_rows_back_after_a_verified_safety_dump(seeded, tmp_path: Path):
    import psycopg

    dsn, backups = seeded
    database = parts(dsn)["dbname"]
    password = str(parts(dsn)["password"])
    config = write_config(tmp_path, backups)
    assert rows(dsn) == CHANGED
    bystander = psycopg.connect(dsn, autocommit=True)  # another session on the database: ended first
    runner = CliRunner()
    wrong = runner.invoke(act, ["restore", "--config", str(config), "--confirm", "staging"],
                          env={"LD_RESTORE_DSN": dsn})
    assert wrong.exit_code == 2 and f"type the word '{database}'" in wrong.output
    assert rows(dsn) == CHANGED and sorted(p.name for p in backups.iterdir()) == ["main_db_20260101_000000.dump"]
    result = runner.invoke(act, ["restore", "--config", str(config), "--confirm", database, "--json"],
                           env={"LD_RESTORE_DSN": dsn})
    assert result.exit_code == 0, result.output
    assert rows(dsn) == ROWS
    with pytest.raises(psycopg.OperationalError):
        bystander.execute("SELECT 1")
    bystander.close()
    safety = [p for p in backups.iterdir() if "_safety_" in p.name]
    assert len(safety) == 1 and safety[0].name.startswith(f"{database}_safety_")
    document = json.loads(result.stdout[result.stdout.index("{\n"):])
    assert [s["name"] for s in document["steps"]] == ["safety dump", "verify safety dump", "end other sessions",
                                                      "restore", "check connectivity"]
    log = Path(document["log"])
    for text in (result.output, log.read_text(errors="replace"), (tmp_path / "launch-signoff.jsonl").read_text()):
        assert password not in text
    assert verify(tmp_path / "launch-signoff.jsonl").ok
    finish = [r for r in Ledger(tmp_path / "launch-signoff.jsonl").records() if r.evidence.get("event") == "finish"]
    assert finish[-1].evidence["outcome"] == "done"

    # the safety dump holds the rows as they were before the restore
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM items")
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--exit-on-error", f"--dbname={no_password(dsn)}",
                    str(safety[0])], check=True, env=tool_env(dsn))
    assert rows(dsn) == CHANGED


def test_restore_of_a_gzipped_sql_dump_chosen_with_backup(seeded, tmp_path: Path):
    dsn, backups = seeded
    plain = subprocess.run(["pg_dump", "--clean", "--if-exists", f"--dbname={no_password(dsn)}"], check=True,
                           capture_output=True, env=tool_env(dsn)).stdout
    (backups / "main_db_20260102_000000.sql.gz").write_bytes(gzip.compress(plain))  # holds CHANGED
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM items")
    config = write_config(tmp_path, backups, pattern="main_db_*")
    database = parts(dsn)["dbname"]
    refused = CliRunner().invoke(act, ["restore", "--config", str(config), "--confirm", database,
                                       "--backup", "../etc/passwd"], env={"LD_RESTORE_DSN": dsn})
    assert refused.exit_code == 2 and "not in the listing of backups" in refused.output
    assert rows(dsn) == []
    result = CliRunner().invoke(act, ["restore", "--config", str(config), "--confirm", database,
                                      "--backup", "main_db_20260102_000000.sql.gz"], env={"LD_RESTORE_DSN": dsn})
    assert result.exit_code == 0, result.output
    assert rows(dsn) == CHANGED
