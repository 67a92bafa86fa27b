"""One judgement for both traffic sources: thresholds with for:, no traffic, SLO burn rates."""

from datetime import datetime, timedelta, timezone

import pytest

from launchdeck.core.config import parse_config
from launchdeck.core.model import Status
from launchdeck.probes.traffic.judge import TrafficJudge, TrafficSample, burn_verdict, finite

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)


def spec(extra: str = ""):
    return parse_config(f'[[traffic]]\nname = "api"\nsource = "scrape"\nscrape_url = "http://x/metrics"\n{extra}',
                        "t.toml", {}).traffic[0]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize("raw, value", [("NaN", None), ("+Inf", None), ("-Inf", None), (None, None), ("0.25", 0.25),
                                        (3, 3.0), ("abc", None)])
def test_finite_turns_prometheus_text_into_numbers_or_none(raw, value):
    assert finite(raw) == value


def test_error_ratio_crit_only_after_it_is_sustained_for_the_for_duration():
    judge = TrafficJudge(spec())
    assert judge.judge(TrafficSample(0.004, 0.1, 40), at(0)).status is Status.OK
    pending = judge.judge(TrafficSample(0.07, 0.1, 40), at(1))
    assert pending.status is Status.WARN and "error ratio > 5% for <1m (crit after 5m)" in pending.reason
    still = judge.judge(TrafficSample(0.06, 0.1, 40), at(5))
    assert still.status is Status.WARN and "for 4m (crit after 5m)" in still.reason
    fired = judge.judge(TrafficSample(0.06, 0.1, 40), at(6))
    assert fired.status is Status.CRIT and fired.reason == "error ratio > 5% for 5m"
    assert fired.values["error_ratio_breach_seconds"] == 300
    assert judge.judge(TrafficSample(0.002, 0.1, 40), at(7)).status is Status.OK
    restarted = judge.judge(TrafficSample(0.06, 0.1, 40), at(8))
    assert restarted.status is Status.WARN, "a new breach starts its for: clock again"


def test_warn_breach_reports_how_long_it_has_lasted():
    judge = TrafficJudge(spec())
    judge.judge(TrafficSample(0.02, 0.1, 40), at(0))
    outcome = judge.judge(TrafficSample(0.03, 0.1, 40), at(3))
    assert outcome.status is Status.WARN and outcome.reason == "error ratio > 1% for 3m"


def test_p95_thresholds_default_to_immediate():
    judge = TrafficJudge(spec())
    assert judge.judge(TrafficSample(0.0, 0.35, 40), at(0)).reason == "p95 > 300ms for <1m"
    assert judge.judge(TrafficSample(0.0, 0.9, 40), at(1)).status is Status.CRIT


def test_no_traffic_is_its_own_state_never_zero_percent():
    judge = TrafficJudge(spec())
    idle = judge.judge(TrafficSample(None, None, 0.0), at(0))
    assert idle.status is Status.WARN and idle.reason == "no traffic in the last 5m"
    assert idle.values["error_ratio"] is None
    assert judge.judge(TrafficSample(None, None, None), at(1)).reason.startswith("no traffic")


def test_healthy_summary_names_the_numbers():
    outcome = TrafficJudge(spec()).judge(TrafficSample(0.0042, 0.123, 41.25), at(0))
    assert outcome.status is Status.OK and outcome.reason == "errors 0.42%, p95 123ms, 41.2 req/s"


def test_burn_rate_rules_from_the_sre_workbook():
    objective = 0.999  # budget 0.1 %
    fast = burn_verdict(objective, {300: 0.02, 3600: 0.016, 1800: 0.001, 21600: 0.001, 259200: 0.0005})
    assert fast.level == "page" and "16.0x budget over 1h" in fast.reason
    blip = burn_verdict(objective, {300: 0.05, 3600: 0.001, 1800: 0.001, 21600: 0.001, 259200: 0.0005})
    assert blip.level == "ok", "a short spike alone must not page: both windows must burn"
    slow = burn_verdict(objective, {300: 0.0012, 3600: 0.0012, 1800: 0.0012, 21600: 0.0012, 259200: 0.0011})
    assert slow.level == "ticket"
    unknown = burn_verdict(objective, {})
    assert unknown.level == "unknown" and "no error ratio yet" in unknown.reason
    assert fast.burn["1h"] == pytest.approx(16.0)


def test_slo_page_makes_the_reading_crit_and_shows_the_burn():
    judge = TrafficJudge(spec('slo = { objective = "99.9%" }\n'))
    ratios = {300: 0.02, 3600: 0.02, 1800: 0.02, 21600: 0.02, 259200: 0.02}
    outcome = judge.judge(TrafficSample(0.009, 0.1, 40, ratios), at(0))
    assert outcome.status is Status.CRIT and outcome.values["slo_level"] == "page"
    assert outcome.reason.startswith("SLO 99.9%: burning 20.0x budget over 1h")
