import pytest

from launchdeck.core.units import format_duration, format_latency, parse_duration


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
