"""Backups panel and list screen: rows, quiet ages, verification from a key (real gzip, a real ledger)."""

import gzip
from datetime import datetime, timedelta, timezone

from launchdeck.tui.messages import VerifyRequested
from launchdeck.tui.app import make_app
from launchdeck.probes.backups.freshness import Backup, summarise
from launchdeck.audit.ledger import Ledger
from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.tui.screens.backups import BackupsScreen
from tests.fakes import FakeProbe
from tests.tui.helpers import config_for, wait_until

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def reading_values(source: str, names_and_hours: list[tuple[str, float]], **extra) -> dict:
    backups = [Backup(name, NOW - timedelta(hours=hours), 2048 * (i + 1)) for i, (name, hours) in
               enumerate(names_and_hours)]
    return {"source": source, "location": "/var/backups/*.sql.gz", "host": "local", **summarise(backups, NOW, 20),
            **extra}


def backup_probes(folder=None) -> list[FakeProbe]:
    main = reading_values("directory", [("main_db_20261123_100000.sql.gz", 2), ("main_db_20261122_100000.sql.gz", 26)])
    return [
        FakeProbe("main_db", [Outcome(Status.OK, "main_db_20261123_100000.sql.gz", main)], panel="backups"),
        FakeProbe("ai_db", [Outcome(Status.CRIT, "older than max_age 26h",
                                    reading_values("directory", [("ai_db_20261121_200000.sql.gz", 40)]))],
                  panel="backups"),
        FakeProbe("pgbr", [Outcome(Status.OK, "20261123-110000F", reading_values(
            "pgbackrest", [("20261123-110000F", 1)], stanzas=[{"latest": {"full": {}, "incr": {}}}]))],
                  panel="backups"),
        FakeProbe("wal", [Outcome(Status.CRIT, "archiving failing: 00000001000000000000001F failed, 3 failures",
                                  reading_values("wal", [], archived_count=1203, failed_count=3))], panel="backups"),
    ]


def backups_app(probes, folder="/b", ledger=None):
    extra = "".join(f'[[backups]]\nname = "{p.target}"\npath = "{folder}"\n' for p in probes)
    if ledger is not None:
        extra += f'[checklists]\nledger = "{ledger}"\n'
    return make_app(config_for([], extra=extra), probes=probes, clock=FixedClock(NOW))


def row_text(app, target: str) -> str:
    return app.dashboard.query_one("#backups").rows[target].plain()


async def test_rows_show_age_size_holdings_and_reason():
    app = backups_app(backup_probes())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 4)
        await pilot.pause()
        assert "2h" in row_text(app, "main_db") and "2 files 6K" in row_text(app, "main_db")
        assert "main_db_20261123_100000.sql.gz" in row_text(app, "main_db")
        assert "1d16h" in row_text(app, "ai_db") and "older than max_age 26h" in row_text(app, "ai_db")
        assert "full+incr" in row_text(app, "pgbr")
        assert "WAL 1203 ✗3" in row_text(app, "wal") and "archiving failing" in row_text(app, "wal")


async def test_ages_repaint_once_a_minute_not_every_poll():
    seconds = [7200.0, 7230.0, 7261.0]
    probe = FakeProbe("main_db", [Outcome(Status.OK, "x", {"age_seconds": s, "newest": "x"}) for s in seconds],
                      panel="backups")
    app = backups_app([probe])
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: probe.calls == 1)
        await pilot.pause()
        cell = app.dashboard.query_one("#backups").rows["main_db"].cells["age"]
        assert cell.text.plain.strip() == "2h"
        app.action_refresh()
        await wait_until(pilot, lambda: probe.calls == 2)
        await pilot.pause()
        assert cell.text.plain.strip() == "2h"  # 30 s later: same text, no repaint
        app.action_refresh()
        await wait_until(pilot, lambda: probe.calls == 3)
        await pilot.pause()
        assert cell.text.plain.strip() == "2h01m"


def dumps(tmp_path):
    good, bad = tmp_path / "main_db_20261123_100000.sql.gz", tmp_path / "ai_db_20261121_200000.sql.gz"
    good.write_bytes(gzip.compress(b"select 1;\n" * 100))
    bad.write_bytes(gzip.compress(b"select 2;\n" * 1000)[:40])  # truncated upload
    return good, bad


async def test_v_on_the_panel_verifies_each_newest_dump_and_records_it(tmp_path):
    dumps(tmp_path)
    ledger = tmp_path / "ledger.jsonl"
    app = backups_app(backup_probes()[:2], folder=tmp_path, ledger=ledger)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 2)
        app.dashboard.query_one("#backups").focus()
        await pilot.press("v")
        await wait_until(pilot, lambda: "✗ verify" in row_text(app, "ai_db") and "✓ verified" in row_text(app, "main_db"))
    records = {r.item_id: r for r in Ledger(ledger).records()}
    assert set(records) == {"main_db", "ai_db"} and all(r.kind == "verify" for r in records.values())
    assert records["ai_db"].evidence["result"] == "failed" and "gzip:" in records["ai_db"].reason
    assert records["main_db"].evidence["result"] == "passed"


async def test_list_screen_verifies_the_highlighted_older_backup(tmp_path):
    good, _ = dumps(tmp_path)
    older = tmp_path / "main_db_20261122_100000.sql.gz"
    older.write_bytes(b"not gzip at all")
    app = backups_app(backup_probes()[:2], folder=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 2)
        await pilot.press("b")
        assert isinstance(app.screen, BackupsScreen)
        screen = app.screen
        assert screen.highlighted() == ("main_db", good.name)
        await pilot.press("down", "v")
        await wait_until(pilot, lambda: app.verifications.results.get(("main_db", older.name)) == "failed")
        assert "gzip:" in app.verifications.summaries[("main_db", older.name)]
        assert "✓ verified" not in row_text(app, "main_db")  # the panel speaks of the newest only
        await pilot.press("escape")
        assert not isinstance(app.screen, BackupsScreen)


async def test_results_recorded_by_another_terminal_show_at_start(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    Ledger(ledger).append(checklist="backups", item_id="main_db", item_text="main_db_20261123_100000.sql.gz",
                          kind="verify", reason="gzip ok", evidence={"result": "passed"})
    app = backups_app(backup_probes()[:1], ledger=ledger)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "✓ verified" in row_text(app, "main_db"))


async def test_the_list_cursor_stays_on_its_file_when_a_newer_dump_arrives():
    first = reading_values("directory", [("d_0100.gz", 2), ("d_0050.gz", 26)])
    later = reading_values("directory", [("d_0200.gz", 0.1), ("d_0100.gz", 2), ("d_0050.gz", 26)])
    probe = FakeProbe("main_db", [Outcome(Status.OK, "d_0100.gz", first), Outcome(Status.OK, "d_0200.gz", later)],
                      panel="backups")
    app = backups_app([probe])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: probe.calls == 1)
        await pilot.press("b")
        await pilot.press("down")
        assert app.screen.highlighted() == ("main_db", "d_0050.gz")
        app.action_refresh()
        await wait_until(pilot, lambda: probe.calls == 2)
        await pilot.pause()
        assert app.screen.query_one("DataTable").row_count == 3
        assert app.screen.highlighted() == ("main_db", "d_0050.gz"), "v must verify the file the operator chose"


async def test_a_verification_that_could_not_run_is_not_a_failed_dump(tmp_path):
    app = backups_app(backup_probes()[:1], folder=tmp_path / "gone")  # the directory vanished
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: len(app.latest) == 1)
        app.post_message(VerifyRequested("main_db", "main_db_20261123_100000.sql.gz"))
        await wait_until(pilot, lambda: app.verifications.results.get(("main_db", "main_db_20261123_100000.sql.gz"))
                         in ("failed", "error"))
        assert app.verifications.results[("main_db", "main_db_20261123_100000.sql.gz")] == "error"
        assert "? unverified" in row_text(app, "main_db") and "✗" not in row_text(app, "main_db")
