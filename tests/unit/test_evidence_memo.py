"""The `since when has it held` memo (issue 14: idle CPU) gives exactly what walking the history gives.

A `for 15m` condition walked back through every kept reading of every target on every reading; the
session now keeps a memo. Random runs of holding and failing readings, several targets, a history
trimmed by age as it grows, judged after every reading with and without the memo: same evidence.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from launchdeck.checklists.evidence import evaluate, parse_condition
from launchdeck.core.history import ReadingHistory
from launchdeck.core.model import Reading, Status

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("text", ["traffic.error_ratio < 1% for 1m", "traffic.all_ok for 30s",
                                  "traffic.t1.p95 < 500ms for 2m"])
def test_the_memo_judges_exactly_as_the_walk(seed, text):
    rng = random.Random(seed)
    condition = parse_condition(text)
    history = ReadingHistory(keep_seconds=90)  # shorter than some holds: trimming must count the same
    memo: dict = {}
    now = T0
    for step in range(600):
        now += timedelta(seconds=rng.choice([0.5, 2, 2, 2, 7]))
        target = rng.choice(["t1", "t2", "t3"])
        failing = rng.random() < (0.3 if step % 200 < 40 else 0.02)
        status = Status.UNKNOWN if rng.random() < 0.01 else (Status.WARN if failing else Status.OK)
        values = {"error_ratio": 0.05 if failing else 0.001, "p95_seconds": 0.9 if failing else 0.1}
        history.add(Reading("traffic", target, status, "", values, now, 0.01))
        if rng.random() < 0.8:  # sometimes a reading passes unjudged: the memo must notice the gap
            assert evaluate(condition, history, now, memo) == evaluate(condition, history, now)


def test_a_long_hold_is_reported_from_the_oldest_kept_reading_with_or_without_memo():
    condition = parse_condition("traffic.error_ratio < 1% for 1m")
    history, memo = ReadingHistory(keep_seconds=60), {}
    for second in range(0, 600, 2):
        now = T0 + timedelta(seconds=second)
        history.add(Reading("traffic", "web", Status.OK, "", {"error_ratio": 0.0}, now, 0.01))
        with_memo = evaluate(condition, history, now, memo)
    assert with_memo == evaluate(condition, history, now)
    assert with_memo.state == "pass" and "holds for 1m" in with_memo.detail
