"""The wall's summary (engine/summary.py) from a LiveState fed by hand: no engine, no network, no clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from launchdeck.core.config import parse_config
from launchdeck.core.jsontext import dumps
from launchdeck.core.model import Reading, Status
from launchdeck.engine.events import EventLog
from launchdeck.engine.state import LiveState
from launchdeck.engine.summary import format_age, format_p95, format_ratio, summarize

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

CONFIG = """
[deck]
name = "shop"
environment = "production"
refresh = "5s"
[[services]]
name = "web"
url = "http://127.0.0.1:9/web"
[[services]]
name = "api"
url = "http://127.0.0.1:9/api"
[[traffic]]
name = "checkout"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"
[[traffic]]
name = "search"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"
[[containers]]
[[backups]]
name = "main_db"
path = "/srv/backups"
"""


def config(text: str = CONFIG):
    return parse_config(text, "test.toml", {})


def reading(panel, target, status=Status.OK, reason="fine", at=T0, **values) -> Reading:
    return Reading(panel, target, status, reason, values, at, 0.01)


def healthy(at=T0) -> list[Reading]:
    return [
        reading("services", "web", latency_seconds=0.012, at=at),
        reading("services", "api", latency_seconds=0.02, at=at),
        reading("traffic", "checkout", error_ratio=0.0042, p95_seconds=0.123, rate_rps=40.0, at=at),
        reading("traffic", "search", error_ratio=0.001, p95_seconds=0.2, rate_rps=10.0, at=at),
        reading("containers", "local/web", name="web", state="running", at=at),
        reading("containers", "local/db", name="db", state="running", at=at),
        reading("backups", "main_db", age_seconds=5 * 3600.0, max_age_seconds=26 * 3600.0, at=at),
    ]


def state_with(readings) -> LiveState:
    state = LiveState(EventLog())
    for r in readings:
        state.observe(r)
    return state


def test_figures_of_a_healthy_deck_in_human_units():
    state = state_with(healthy())
    summary = summarize(state.snapshot(T0 + timedelta(seconds=2)), config(), (("pre-launch", 12, 20),))
    values = {f.key: (f.value, f.status) for f in summary.figures}
    assert values == {
        "error_ratio": ("0.42%", Status.OK),
        "p95": ("200 ms", Status.OK),  # the worst target's p95, not the first one's
        "services_up": ("2/2", Status.OK),
        "containers_up": ("2/2", Status.OK),
        "newest_backup": ("5h", Status.OK),
        "checklist": ("12/20 pre-launch", Status.WARN),  # launching with pre-launch open is a caution
    }
    assert summary.verdict.word == "go" and summary.deck == "shop" and summary.environment == "production"
    assert summary.newest_data_at == T0


def test_figures_follow_the_thresholds_and_name_the_worst_target():
    state = state_with(healthy() + [
        reading("traffic", "search", Status.CRIT, "error ratio > 5% for 6m", error_ratio=0.075, p95_seconds=0.61,
                error_ratio_breach_seconds=420.0, at=T0 + timedelta(seconds=1)),
        reading("services", "api", Status.CRIT, "connection refused", at=T0 + timedelta(seconds=1)),
        reading("containers", "local/db", Status.CRIT, "exited (1)", name="db", state="exited"),
        reading("backups", "main_db", Status.CRIT, "too old", age_seconds=40 * 3600.0,
                max_age_seconds=26 * 3600.0),
    ])
    summary = summarize(state.snapshot(T0 + timedelta(seconds=2)), config())
    ratio = summary.figure("error_ratio")
    assert (ratio.value, ratio.status) == ("7.5%", Status.CRIT)
    assert "search" in ratio.detail and "7m" in ratio.detail and "1 flap" in ratio.detail
    assert summary.figure("p95").value == "610 ms" and summary.figure("p95").status is Status.CRIT
    services = summary.figure("services_up")
    assert (services.value, services.status, services.detail) == ("1/2", Status.CRIT, "down: api")
    containers = summary.figure("containers_up")
    assert (containers.value, containers.status) == ("1/2", Status.CRIT) and "db" in containers.detail
    assert summary.figure("newest_backup").value == "40h"
    assert summary.newest_data_at == T0 + timedelta(seconds=1)


@pytest.mark.parametrize("broken", [
    reading("services", "web", Status.CRIT, "HTTP 503, expected 200"),
    reading("traffic", "checkout", Status.CRIT, "error ratio > 5% for 6m", error_ratio=0.08, p95_seconds=0.1),
    reading("containers", "local/web", Status.CRIT, "restarting (restarted 4x)", name="web", state="restarting"),
    reading("backups", "main_db", Status.WARN, "newest backup 24h old (warn past 20h48m)", age_seconds=86400.0),
], ids=lambda r: r.panel)
def test_each_panel_in_turn_breaking_is_named_first_in_the_reasons(broken):
    state = state_with(healthy() + [broken])
    summary = summarize(state.snapshot(T0), config())
    assert summary.verdict.status is broken.status
    assert summary.verdict.reasons[0].startswith(f"{broken.panel}/{broken.target} {broken.status.value}: ")
    assert broken.reason in summary.verdict.reasons[0]
    assert len(summary.verdict.reasons) == 1  # only the broken panel: the others stay out of the reasons
    assert summary.to_json()["reasons"][0].startswith(f"{broken.panel}/")


def test_stale_after_silence_and_never_calm_without_data():
    state = state_with(healthy())
    summary = summarize(state.snapshot(T0), config())
    assert summary.stale_after == 15.0  # three 5 s polls
    assert not summary.is_stale(T0 + timedelta(seconds=14))
    assert summary.data_age(T0 + timedelta(seconds=14)) == 14.0
    assert summary.is_stale(T0 + timedelta(seconds=16))
    empty = summarize(LiveState(EventLog()).snapshot(T0), config())
    assert empty.data_age(T0) is None and empty.is_stale(T0)
    assert empty.verdict.word == "no-go"


def test_stale_after_has_a_floor_and_follows_the_fastest_probe():
    fast = config('[deck]\nrefresh = "1s"\n[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n')
    summary = summarize(LiveState(EventLog()).snapshot(T0), fast)
    assert summary.stale_after == 10.0
    slow = config('[deck]\nrefresh = "20s"\n[[backups]]\nname = "b"\npath = "/x"\ninterval = "60s"\n'
                  '[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n')
    assert summarize(LiveState(EventLog()).snapshot(T0), slow).stale_after == 60.0


def test_unconfigured_panels_have_no_figure():
    only = config('[deck]\nname = "tiny"\n[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n')
    summary = summarize(state_with([reading("services", "web")]).snapshot(T0), only)
    assert [f.key for f in summary.figures] == ["services_up"]


def test_trend_comes_from_history_scaled_by_the_crit_threshold():
    state = LiveState(EventLog())
    for i, ratio in enumerate((0.001, 0.004, 0.02, 0.09)):
        state.observe(reading("traffic", "checkout", error_ratio=ratio, p95_seconds=0.1,
                              at=T0 + timedelta(seconds=5 * i)))
    summary = summarize(state.snapshot(T0), config(), history=state.history)
    ratio = summary.figure("error_ratio")
    assert ratio.trend == (0.001, 0.004, 0.02, 0.09)
    assert ratio.scale == 0.05  # error_ratio_crit's default


def test_checklist_takes_the_first_open_phase_or_a_whole_notice_summary():
    done_first = summarize(LiveState(EventLog()).snapshot(T0), config(),
                           (("pre-launch", 20, 20), ("launch-day", 3, 9), ("post-launch", 0, 4)))
    assert (done_first.figure("checklist").value, done_first.figure("checklist").status) == ("3/9 launch-day",
                                                                                             Status.OK)
    broken_ledger = summarize(LiveState(EventLog()).snapshot(T0), config(),
                              ((("pre-launch", 20, 20),), 2, 0, "chain broken at line 7"))
    figure = broken_ledger.figure("checklist")
    assert figure.value == "20/20 pre-launch" and figure.status is Status.CRIT
    assert "2 failing evidence" in figure.detail and "chain broken at line 7" in figure.detail


def test_json_is_safe_and_keeps_peoples_text_exact():
    nasty = "HTTP 503 \x1b[2J [bold]boom[/] \u202e"
    state = state_with(healthy() + [reading("services", "web", Status.CRIT, nasty)])
    data = summarize(state.snapshot(T0 + timedelta(seconds=3)), config()).to_json()
    text = dumps(data)
    assert "\x1b" not in text and "\u202e" not in text  # escaped for a terminal ...
    back = json.loads(text)
    assert back["reasons"][0].endswith(nasty)  # ... and the same text once parsed
    assert back["verdict"] == "no-go" and back["status"] == "crit"
    assert back["data_age_seconds"] == 3.0 and back["stale"] is False
    assert {f["key"] for f in back["figures"]} >= {"error_ratio", "services_up"}


def test_units():
    assert [format_ratio(r) for r in (0.0042, 0.012, 0.25)] == ["0.42%", "1.2%", "25%"]
    assert [format_p95(s) for s in (0.48, 1.25, 12.0)] == ["480 ms", "1.2 s", "12 s"]
    assert [format_age(s) for s in (120, 93600, 5 * 86400)] == ["2m", "26h", "5d"]


def test_a_ratio_past_crit_but_not_for_long_enough_is_warn_as_the_judge_says():
    state = state_with(healthy() + [
        reading("traffic", "checkout", Status.WARN, "error ratio > 5% for 2m (crit after 5m)", error_ratio=0.07,
                p95_seconds=0.1, error_ratio_breach_seconds=130.0)])
    ratio = summarize(state.snapshot(T0), config()).figure("error_ratio")
    assert (ratio.value, ratio.status) == ("7.0%", Status.WARN) and "over for 2m" in ratio.detail
