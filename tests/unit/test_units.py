import pytest

from launchdeck.core.units import format_duration, format_latency, format_metric, metric_word, parse_duration


@pytest.mark.parametrize("text, seconds", [
    ("500ms", 0.5), ("2s", 2), ("5m", 300), ("26h", 93600), ("3d", 259200), ("1h30m", 5400),
    ("1.5s", 1.5), (" 2s ", 2), (3, 3.0), (0.25, 0.25), ("0s", 0),
])
def test_parse_duration_accepts_what_people_write(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "", "5", "2x", "s", "-1s", "1h-5m", True, float("inf"), -3])
def test_parse_duration_rejects_with_the_expected_form(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds, text", [
    (0.85, "850ms"), (2.5, "2.5s"), (2.0, "2s"), (42, "42s"), (192, "3m12s"), (300, "5m"),
    (7500, "2h05m"), (7200, "2h"), (273600, "3d04h"), (86400, "1d"),
])
def test_format_duration_is_short_and_exact(seconds, text):
    assert format_duration(seconds) == text


def test_format_latency_keeps_milliseconds_and_marks_missing():
    assert format_latency(0.0123) == "12ms"
    assert format_latency(None) == "—"
    assert format_latency(float("nan")) == "—"
    assert format_latency(12) == "12s"


@pytest.mark.parametrize("metric, value, text", [
    ("age_seconds", 144059, "40h"), ("age_seconds", 93600, "26h"), ("age_seconds", 5400, "1h30m"),
    ("age_seconds", 4 * 86400 + 3600, "4d01h"), ("error_ratio", 0.012, "1.2%"), ("error_ratio", 0.001, "0.1%"),
    ("p95_seconds", 0.48, "480ms"), ("rate_rps", 41.2, "41/s"), ("rate_rps", 1.62, "1.6/s"),
    ("cpu_percent", 73.4, "73%"), ("size_bytes", 3 * 1024 * 1024, "3.0M"), ("restarts", 2, "2"),
    ("age_seconds", None, "None"), ("p95_seconds", float("nan"), "—"),
])
def test_format_metric_speaks_the_unit_its_name_says(metric, value, text):
    assert format_metric(metric, value) == text


def test_metric_word_is_the_name_people_write():
    assert [metric_word(m) for m in ("age_seconds", "p95_seconds", "error_ratio", "restarts")] == \
        ["age", "p95", "error ratio", "restarts"]
