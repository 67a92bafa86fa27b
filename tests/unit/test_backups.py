"""Backups core without servers: name stamps, freshness, the listing / info / archiver parsers, config, verify."""

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from launchdeck.probes.backups.archiver import read_archiver
from launchdeck.probes.backups.freshness import Backup, judge, summarise
from launchdeck.core.units import format_minutes
from launchdeck.probes.backups.listing import list_argv, parse_listing
from launchdeck.probes.backups.pgbackrest import info_argv, parse_info
from launchdeck.core.stamps import stamp_in_name, stamp_regex
from launchdeck.probes.backups.integrity import Check, Verification, verify_file
from launchdeck.core.config import ConfigError, parse_config
from launchdeck.core.model import Status
from launchdeck.run.ssh import CompletedRun

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=timezone.utc)
DAY = 86400.0


def backup(hours_old: float, name: str = "b", size: int | None = 100, **kw) -> Backup:
    return Backup(name, NOW - timedelta(hours=hours_old), size, **kw)


# ------------------------------------------------------------------ name stamps

def test_stamp_is_read_from_the_end_of_the_name_in_its_zone():
    assert stamp_in_name("main_db_20250128_120000.sql.gz", "%Y%m%d_%H%M%S") == datetime(2025, 1, 28, 12, 0,
                                                                                        tzinfo=timezone.utc)
    berlin = stamp_in_name("db2_20250128_120000.sql.gz", "%Y%m%d_%H%M%S", "Europe/Berlin")
    assert berlin == datetime(2025, 1, 28, 11, 0, tzinfo=timezone.utc)  # CET is UTC+1 in January


def test_a_name_without_a_valid_stamp_gives_none():
    assert stamp_in_name("main_db_latest.sql.gz", "%Y%m%d_%H%M%S") is None
    assert stamp_in_name("main_db_20251399_250000.sql.gz", "%Y%m%d_%H%M%S") is None  # digits, not a date


@pytest.mark.parametrize("fmt", ["%b-%Y", "%H%M%S"])
def test_unreadable_stamp_formats_are_refused(fmt):
    with pytest.raises(ValueError):
        stamp_regex(fmt)


# ------------------------------------------------------------------ freshness (Barman semantics)

@pytest.mark.parametrize("hours, status", [(1, Status.OK), (20.7, Status.OK), (20.9, Status.WARN),
                                            (25.9, Status.WARN), (26.1, Status.CRIT), (200, Status.CRIT)])
def test_age_against_max_age_warns_past_80_percent(hours, status):
    assert judge([backup(hours)], NOW, 26 * 3600)[0] is status


def test_future_stamp_is_a_warning_not_fresh():
    status, reason = judge([backup(-2)], NOW, 26 * 3600)
    assert status is Status.WARN and "future" in reason


def test_small_newest_and_flagged_newest():
    assert judge([backup(1, size=10)], NOW, DAY, min_size=1000) == (Status.WARN, "newest is 10B, below min_size 1000B")
    status, reason = judge([backup(1, name="20261123-100000F", error=True)], NOW, DAY)
    assert status is Status.CRIT and "flagged with errors" in reason


def test_no_backup_is_crit_unless_the_source_already_said_why():
    assert judge([], NOW, DAY) == (Status.CRIT, "no backups found")
    assert judge([], NOW, DAY, extra=[(Status.UNKNOWN, "ssh down")]) == (Status.UNKNOWN, "ssh down")


def test_reasons_carry_no_live_numbers_so_rows_do_not_repaint_every_poll():
    a = judge([backup(22.0)], NOW, 26 * 3600)[1]
    b = judge([backup(23.5)], NOW, 26 * 3600)[1]
    assert a == b == "past 80% of max_age 26h"
    assert format_minutes(59) == "<1m" and format_minutes(3 * 3600 + 65) == "3h01m"


def test_summary_lists_the_newest_first_and_counts_all():
    values = summarise([backup(30, "old", 5), backup(2, "new", 7), backup(50, "older", 9)], NOW, keep=2)
    assert values["newest"] == "new" and values["age_seconds"] == 7200.0 and values["size_bytes"] == 7
    assert values["count"] == 3 and values["total_bytes"] == 21
    assert [b["name"] for b in values["backups"]] == ["new", "old"]


# ------------------------------------------------------------------ directory listing

def listing_run(*records: str, clock: str = "1795435200.5", code: int = 0, err: str = "") -> CompletedRun:
    return CompletedRun(code, clock + "\n" + "".join(r + "\0" for r in records), err)


def test_listing_keeps_values_literal_as_positional_parameters():
    argv = list_argv("/var/backups/$(rm -rf /)", "main_db_*.sql.gz")
    assert argv[:2] == ["sh", "-c"] and "$(rm" not in argv[2] and argv[-2:] == ["/var/backups/$(rm -rf /)",
                                                                                  "main_db_*.sql.gz"]


def test_listing_parses_mtime_size_and_name_stamp_and_skips_sidecars():
    run = listing_run("1795420800.25\t2048\tmain_db_20261123_080000.sql.gz",
                      "1795431000\t10\tmain_db_20261123_080000.sql.gz.sha256",
                      "1795431000\t4096\tmain_db_manual.sql.gz")
    listing = parse_listing(run, "/b", "main_db_*", "%Y%m%d_%H%M%S")
    assert listing.problem is None and listing.now == datetime.fromtimestamp(1795435200.5, timezone.utc)
    by_name = {b.name: b for b in listing.backups}
    assert set(by_name) == {"main_db_20261123_080000.sql.gz", "main_db_manual.sql.gz"}
    assert by_name["main_db_20261123_080000.sql.gz"].time_from == "name"
    assert by_name["main_db_manual.sql.gz"].taken_at == datetime.fromtimestamp(1795431000, timezone.utc)


def test_listing_names_with_tabs_and_newlines_survive():
    listing = parse_listing(listing_run("1795431000\t1\tweird\tname\nx.gz"), "/b", "*")
    assert [b.name for b in listing.backups] == ["weird\tname\nx.gz"]


@pytest.mark.parametrize("code, err, status, words", [
    (3, "", Status.CRIT, "directory /b does not exist"),
    (4, "", Status.CRIT, "/b is not a directory"),
    (1, "find: '/b': Permission denied", Status.UNKNOWN, "permission denied reading /b"),
    (127, "sh: 1: exec: find: not found", Status.UNKNOWN, "`find` is not installed there"),
])
def test_listing_failures_are_worded(code, err, status, words):
    listing = parse_listing(listing_run(code=code, err=err), "/b", "*")
    assert listing.problem is not None and listing.problem[0] is status and words in listing.problem[1]


def test_empty_directory_is_crit_naming_the_pattern():
    assert parse_listing(listing_run(), "/b", "x_*.gz").problem == (Status.CRIT, "no files match 'x_*.gz' in /b")


# ------------------------------------------------------------------ pgBackRest info (shape from 2.45)

def stanza(name="launchdeck", code=0, message="ok", backups=()):
    return {"name": name, "status": {"code": code, "message": message, "lock": {"backup": {"held": False}}},
            "archive": [{"id": "15-1", "min": "00000001000000000000000D", "max": "000000010000000000000010"}],
            "backup": list(backups)}


def bset(label, kind, stop, size=23054830, error=False):
    return {"label": label, "type": kind, "error": error, "timestamp": {"start": stop - 3, "stop": stop},
            "info": {"size": size, "delta": size, "repository": {"size": 3041616, "delta": 3041616}}}


def info_run(stanzas, code=0, err="") -> CompletedRun:
    return CompletedRun(code, "1795445200.0\n" + json.dumps(stanzas), err)


def test_info_newest_of_each_type_and_archive_range():
    run = info_run([stanza(backups=[bset("20261123-100000F", "full", 1795400000),
                                    bset("20261123-100000F_20261123-120000I", "incr", 1795440000)])])
    info = parse_info(run, ["pgbackrest"], None)
    assert info.problems == [] and info.now == datetime.fromtimestamp(1795445200, timezone.utc)
    summary = info.values["stanzas"][0]
    assert set(summary["latest"]) == {"full", "incr"} and summary["archive_max"] == "000000010000000000000010"
    status, reason = judge(info.backups, info.now, DAY)
    assert status is Status.OK and reason == "20261123-100000F_20261123-120000I"


@pytest.mark.parametrize("code, message", [(2, "no valid backups"), (1, "missing stanza path")])
def test_info_bad_stanza_status_is_crit(code, message):
    info = parse_info(info_run([stanza(code=code, message=message)]), ["pgbackrest"], "x")
    assert info.problems == [(Status.CRIT, f"stanza launchdeck: {message} (code {code})")]


def test_info_lock_held_is_not_a_problem_and_error_flag_is():
    running = stanza(backups=[bset("L", "full", 1795440000, error=True)])
    running["status"]["lock"]["backup"]["held"] = True  # a backup running now: code 0, lock held
    run = info_run([running])
    info = parse_info(run, ["pgbackrest"], None)
    assert info.problems == []
    assert judge(info.backups, info.now, DAY)[0] is Status.CRIT


def test_info_not_installed_and_garbage():
    missing = parse_info(CompletedRun(127, "1795445200.0\n", "sh: 1: exec: pgbackrest: not found"),
                         ["sudo", "-u", "postgres", "pgbackrest"], None)
    assert missing.problems == [(Status.UNKNOWN, "`pgbackrest` is not installed (or not on PATH) there")]
    garbage = parse_info(CompletedRun(0, "1795445200.0\nnot json", ""), ["pgbackrest"], None)
    assert garbage.problems[0][0] is Status.UNKNOWN and "no JSON" in garbage.problems[0][1]
    assert info_argv(["pgbackrest"], "a b")[-1] == "--stanza=a b"


# ------------------------------------------------------------------ pg_stat_archiver

def archiver_row(**overrides):
    row = {"archived_count": 5, "last_archived_wal": "000000010000000000000010",
           "last_archived_time": NOW - timedelta(minutes=10), "failed_count": 0, "last_failed_wal": None,
           "last_failed_time": None, "stats_reset": NOW - timedelta(days=3), "now": NOW, "archive_mode": "on",
           "wal_segment_size": 16777216}
    return row | overrides


def test_archiver_fresh_failing_off_and_never():
    now, backups, problems, values = read_archiver(archiver_row())
    assert problems == [] and judge(backups, now, 3600)[0] is Status.OK and values["archived_count"] == 5
    failing = read_archiver(archiver_row(failed_count=3, last_failed_wal="000000010000000000000011",
                                         last_failed_time=NOW - timedelta(minutes=1)))[2]
    assert failing[0][0] is Status.CRIT and "000000010000000000000011 failed" in failing[0][1]
    recovered = read_archiver(archiver_row(failed_count=3, last_failed_time=NOW - timedelta(hours=1)))[2]
    assert recovered == []
    assert read_archiver(archiver_row(archive_mode="off"))[2][0][0] is Status.CRIT
    never = read_archiver(archiver_row(archived_count=0, last_archived_wal=None, last_archived_time=None))
    assert never[1] == [] and never[2] == [(Status.WARN, "no WAL archived since the statistics were reset")]


# ------------------------------------------------------------------ config

BASE = '[deck]\nname = "x"\n'


def test_issue_contract_and_kind_checks():
    config = parse_config(BASE + '[[backups]]\nname = "main_db"\nkind = "directory"\npath = "/var/backups/databases"\n'
                                 'pattern = "main_db_*.sql.gz"\nmax_age = "26h"\nmin_size = "1MB"\n', "d.toml", {})
    spec = config.backups[0]
    assert spec.max_age == 26 * 3600 and spec.min_size == 1048576 and spec.interval == 60


@pytest.mark.parametrize("body, words", [
    ('name = "a"\nkind = "wal"\n', 'kind = "wal" needs dsn'),
    ('name = "a"\n', 'kind = "directory" needs path'),
    ('name = "a"\nkind = "wal"\ndsn = "x"\npath = "/b"\n', 'path not used by kind = "wal"'),
    ('name = "a"\npath = "/b"\nname_time = "%b"\n', "%b is not supported"),
    ('name = "a"\npath = "/b"\nname_timezone = "Mars/Olympus"\n', "unknown time zone"),
    ('name = "a"\npath = "/b"\nmin_size = "lots"\n', "expected a size"),
    ('name = "a"\npath = "/b"\nhost = "vps9"\n', "no [[hosts]] entry named 'vps9'"),
])
def test_bad_backup_config_names_the_field(body, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + "[[backups]]\n" + body, "d.toml", {})
    assert "backups[0]" in str(caught.value) and words in str(caught.value)


# ------------------------------------------------------------------ verify (scripted runner)

class Script:
    """A runner answering each program by name, recording the argv it was given."""

    def __init__(self, **answers):
        self.answers, self.calls = answers, []

    async def __call__(self, argv, timeout):
        self.calls.append(argv)
        answer = self.answers.get(argv[0], (0, "", ""))
        return CompletedRun(*answer)


def test_verify_gzip_fails_with_the_tools_reason_and_sha_is_compared():
    digest = "ab" * 32
    runner = Script(gzip=(1, "", "gzip: /b/x.sql.gz: unexpected end of file\n"), cat=(0, f"{digest}  x.sql.gz\n", ""),
                    sha256sum=(0, f"{digest}  /b/x.sql.gz\n", ""), head=(0, "\x1f\x8b\x08\x00\x00", ""))
    checks = asyncio.run(verify_file("/b/x.sql.gz", runner, 10))
    assert checks == (Check("gzip", False, "unexpected end of file"),
                      Check("pg_restore", None, "not a custom or tar archive"),
                      Check("sha256", True, "matches .sha256"))
    assert ["gzip", "-t", "--", "/b/x.sql.gz"] in runner.calls


def test_verify_custom_dump_by_magic_and_digest_mismatch():
    runner = Script(head=(0, "PGDMP", ""), pg_restore=(0, ";\n; Archive\n215; 1259 16390 TABLE public t x\n", ""),
                    cat=(0, "cd" * 32, ""), sha256sum=(0, "ef" * 32 + "  /b/x", ""))
    checks = asyncio.run(verify_file("/b/x", runner, 10))
    assert checks[1] == Check("pg_restore", True, "1 TOC entries, data readable")
    assert checks[2].passed is False and "does not match" in checks[2].detail


def test_verification_with_nothing_to_check_fails():
    nothing = Verification("s", "x.sql", "/b/x.sql", (Check("gzip", None, "not gzip"),), NOW)
    assert not nothing.passed and "nothing could be checked" in nothing.summary()
    with pytest.raises(FileNotFoundError, match="missing or not readable"):
        asyncio.run(verify_file("/b/gone", Script(test=(1, "", "")), 10))


# ------------------------------------------------------------------ review findings, pinned

def test_a_future_stamp_does_not_hide_that_the_real_backups_are_stale():
    status, reason = judge([backup(72, "real"), backup(-400 * 24, "stray")], NOW, 26 * 3600)
    assert status is Status.CRIT and "older than max_age 26h" in reason and "future" in reason


def test_code_99_takes_the_repository_message_and_permission_is_unknown():
    entry = stanza(code=99, message="other")
    entry["repo"] = [{"key": 1, "status": {"code": 99, "message": "[PathOpenError] unable to list file info for "
                                                                   "path '/var/lib/pgbackrest/archive': Permission denied"}}]
    info = parse_info(info_run([entry]), ["pgbackrest"], None)
    assert info.problems[0][0] is Status.UNKNOWN and "PathOpenError" in info.problems[0][1]


def test_unreachable_directory_is_unknown_not_missing():
    assert parse_listing(listing_run(code=5), "/b", "*").problem == (Status.UNKNOWN, "permission denied reading /b")


async def test_each_pgbackrest_stanza_is_judged_on_its_own(monkeypatch):
    from launchdeck.core.config import BackupConfig
    from launchdeck.probes.backups import probe as probe_module

    now = 1795445200
    run = info_run([stanza("main", backups=[bset("main-F", "full", now - 3600)]),
                    stanza("billing", backups=[bset("billing-F", "full", now - 5 * 86400)])])

    async def fake_run(argv, timeout, host=None, connections=None):
        return run

    monkeypatch.setattr(probe_module, "run_argv", fake_run)
    outcome = await probe_module.BackupProbe(BackupConfig(name="b", kind="pgbackrest")).collect()
    assert outcome.status is Status.CRIT and "stanza billing: older than max_age 26h" in outcome.reason


def test_a_future_stamp_is_listed_but_the_age_is_the_real_newest():
    values = summarise([backup(72, "real"), backup(-5, "stray")], NOW, keep=5)
    assert values["newest"] == "real" and values["age_seconds"] == 72 * 3600
    assert [b["name"] for b in values["backups"]] == ["stray", "real"]
    only_future = summarise([backup(-5, "stray")], NOW, keep=5)
    assert only_future["newest"] == "stray" and only_future["age_seconds"] == -5 * 3600


def test_a_commands_last_words_are_printable_and_carry_no_password():
    from launchdeck.run.argv import last_words

    run = CompletedRun(1, "partial\n", "\x1b[31mERROR: connect postgresql://backup:hunter2@db1/main failed\x1b[0m\n\n")
    assert last_words(run) == "ERROR: connect postgresql://backup:***@db1/main failed"
    assert last_words(CompletedRun(2, "only stdout\n", "  \n")) == "only stdout"
    assert last_words(CompletedRun(3, "", "")) == "exit 3"
    long_path = "/srv/" + "x" * 200 + ".sql.gz"
    cut = CompletedRun(1, "", f"gzip: {long_path}: unexpected end of file\n")
    assert last_words(cut, drop=f"{long_path}: ") == "gzip: unexpected end of file", "the words after a long path survive"
