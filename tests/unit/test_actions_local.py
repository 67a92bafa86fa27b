"""The local step runner on real processes: streaming, 10 MiB, non-UTF-8, stdin from a gzip, not found."""

from __future__ import annotations

import asyncio
import gzip
import time
from pathlib import Path

from launchdeck.actions.local import run_local_step
from launchdeck.actions.output import LINE_LIMIT, MEMORY_LINES, ActionLog


def new_log(tmp_path: Path, lines: list | None = None) -> ActionLog:
    return ActionLog(tmp_path / "logs" / "a.log",
                     (lambda stream, line: lines.append((time.monotonic(), stream, line))) if lines is not None else None)


async def test_lines_stream_before_the_command_ends(tmp_path: Path):
    lines: list = []
    log = new_log(tmp_path, lines)
    started = time.monotonic()
    result = await run_local_step(["sh", "-c", "echo one; echo oops >&2; sleep 1; echo two"], log, timeout=10,
                                  cancel=asyncio.Event())
    ended = time.monotonic()
    assert result.ok and [(s, t) for _a, s, t in lines] == [("out", "one"), ("err", "oops"), ("out", "two")]
    assert lines[0][0] - started < 0.8 and ended - lines[0][0] > 0.8


async def test_ten_mebibytes_logged_whole_capped_in_memory(tmp_path: Path):
    log = new_log(tmp_path)
    started = time.monotonic()
    result = await run_local_step(["sh", "-c", "yes " + "x" * 63 + " | head -n 163840"], log, timeout=60,
                                  cancel=asyncio.Event())
    took = time.monotonic() - started
    assert result.ok
    log.close()
    assert log.path.stat().st_size == 10 * 1024 * 1024 and len(log.tail) == MEMORY_LINES
    assert took < 20, took


async def test_a_huge_line_without_newline_is_cut_for_the_screen_not_the_file(tmp_path: Path):
    log = new_log(tmp_path)
    result = await run_local_step(["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' y"], log, timeout=30,
                                  cancel=asyncio.Event())
    assert result.ok and all(len(line) <= LINE_LIMIT for line in log.tail)
    log.close()
    assert log.path.stat().st_size == 300000


async def test_non_utf8_bytes_are_replaced_not_fatal(tmp_path: Path):
    lines: list = []
    result = await run_local_step(["printf", "caf\\351 \\377\\n"], new_log(tmp_path, lines), timeout=10,
                                  cancel=asyncio.Event())
    assert result.ok and lines[0][2] == "caf\ufffd \ufffd"


async def test_stdin_fed_from_a_gzip_without_a_shell(tmp_path: Path):
    source = tmp_path / "in.sql.gz"
    source.write_bytes(gzip.compress(b"select 1;\n" * 50000))
    lines: list = []
    result = await run_local_step(["wc", "-l"], new_log(tmp_path, lines), timeout=10, cancel=asyncio.Event(),
                                  stdin=source, gunzip=True)
    assert result.ok and lines[-1][2].strip() == "50000"


async def test_not_found_and_not_executable_are_clear(tmp_path: Path):
    missing = await run_local_step(["/no/such/tool"], new_log(tmp_path), timeout=5, cancel=asyncio.Event())
    assert missing.outcome == "not-found" and missing.message == "`/no/such/tool`: command not found"
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program")
    denied = await run_local_step([str(plain)], new_log(tmp_path / "b"), timeout=5, cancel=asyncio.Event())
    assert denied.outcome == "error" and "permission denied" in denied.message


async def test_a_killed_step_names_its_signal(tmp_path: Path):
    result = await run_local_step(["sh", "-c", "kill -9 $$"], new_log(tmp_path), timeout=5, cancel=asyncio.Event())
    assert result.outcome == "failed" and "killed by SIGKILL" in result.message
