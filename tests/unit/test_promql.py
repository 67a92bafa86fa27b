"""promql.rate and promql.histogram_quantile: hand-computed cases from Prometheus' own rules."""

from __future__ import annotations

import math
import random

import pytest

from launchdeck.probes.traffic.promql import histogram_quantile, rate

# ---------------------------------------------------------------- rate


def test_regular_samples_covering_the_range_give_the_slope():
    # every 10 s from t=5 to t=55, +10 each: 50 counted over 50 s, extrapolated 5 s to each end
    samples = [(5 + 10 * i, 100 + 10 * i) for i in range(6)]
    assert rate(samples, 0, 60) == pytest.approx(1.0)


def test_fewer_than_two_samples_in_range_is_no_data():
    assert rate([], 0, 60) is None
    assert rate([(30, 5)], 0, 60) is None
    assert rate([(-10, 1), (30, 5), (70, 9)], 0, 60) is None  # only one inside


def test_range_is_left_open_and_right_closed():
    # a sample exactly on the start is outside (Prometheus 3), one exactly on the end is inside
    samples = [(0, 100), (30, 130), (60, 160)]
    # inside: (30,130), (60,160): 30 counted over 30 s; to_start 30 >= 33? no: 30 < 1.1*30 -> extrapolate 30
    assert rate(samples, 0, 60) == pytest.approx(30 * (30 + 30 + 0) / 30 / 60)


def test_counter_reset_adds_back_the_value_before_the_drop():
    # 100,110,120 then the process restarts: 5,15,25 -> increases 10,10,5,10,10 = 45
    samples = list(zip(range(5, 60, 10), [100, 110, 120, 5, 15, 25]))
    assert rate(samples, 0, 60) == pytest.approx(45 * (50 + 5 + 5) / 50 / 60)
    assert rate(samples, 0, 60) > 0


def test_reset_to_a_higher_value_is_not_a_reset():
    # a restart that outgrew the old value between scrapes is invisible, in Prometheus too
    samples = [(10, 500), (20, 505), (30, 545)]
    assert rate(samples, 0, 40) == pytest.approx(45 * (20 + 10 + 10) / 20 / 40)


def test_samples_far_from_the_start_extrapolate_only_half_an_interval():
    # samples at 30, 40, 50: average interval 10, first is 30 s after the start (>= 11) -> 5 s;
    # the last is 10 s before the end (< 11) -> all the way
    samples = [(30, 100), (40, 110), (50, 120)]
    assert rate(samples, 0, 60) == pytest.approx(20 * (20 + 5 + 10) / 20 / 60)


def test_samples_far_from_the_end_extrapolate_only_half_an_interval():
    samples = [(5, 100), (15, 110), (25, 120)]  # 35 s before the end -> 5 s
    assert rate(samples, 0, 60) == pytest.approx(20 * (20 + 5 + 5) / 20 / 60)


def test_no_extrapolation_to_before_the_counter_was_zero():
    # 1, 11, 21 at 20, 30, 40: the counter was 0 one second before the first sample
    samples = [(20, 1), (30, 11), (40, 21)]
    assert rate(samples, 0, 60) == pytest.approx(20 * (20 + 1 + 5) / 20 / 60)


def test_counter_starting_at_zero_is_not_extrapolated_backwards():
    samples = [(5 + 10 * i, 10 * i) for i in range(6)]  # 0 at t=5
    assert rate(samples, 0, 60) == pytest.approx(50 * (50 + 0 + 5) / 50 / 60)


def test_zero_point_limit_applies_after_the_half_interval_limit():
    # 8, 18, 28 at 30, 40, 50: zero point 8 s before the first sample. The half-interval rule
    # already limits the start to 5 s, and the zero point (8 s) does not lengthen it back
    # (prometheus#13725; Prometheus < 2.51 extrapolated 8 s here).
    samples = [(30, 8), (40, 18), (50, 28)]
    assert rate(samples, 0, 60) == pytest.approx(20 * (20 + 5 + 10) / 20 / 60)


def test_flat_counter_has_rate_zero_not_none():
    assert rate([(10, 7), (20, 7), (30, 7)], 0, 30) == 0.0


def test_empty_or_inverted_range_is_no_data():
    assert rate([(10, 1), (20, 2)], 30, 30) is None
    assert rate([(10, 1), (20, 2)], 30, 0) is None


def test_unsorted_samples_are_taken_in_time_order():
    samples = [(5 + 10 * i, 100 + 10 * i) for i in range(6)]
    assert rate(list(reversed(samples)), 0, 60) == pytest.approx(1.0)


def test_cross_check_reset_corrected_series_has_the_same_rate():
    """A series with resets equals the same series with the resets undone by hand."""
    rng = random.Random(7)
    t, value, undone = 0.0, 0.0, 0.0
    raw, corrected = [], []
    for _ in range(200):
        t += rng.uniform(4, 6)
        step = rng.randint(0, 30)
        if rng.random() < 0.05:
            value = step  # restart: counts from 0 again
        else:
            value += step
        undone += step
        raw.append((t, value))
        corrected.append((t, undone))
    for start in (0.0, 100.0, 500.0, t - 60):
        ours = rate(raw, start, t)
        assert ours == pytest.approx(rate(corrected, start, t))


def test_cross_check_sum_of_rates_equals_rate_of_sum_for_shared_timestamps():
    """Why the scrape probe may add series up before rate(): one endpoint stamps all series alike."""
    rng = random.Random(3)
    times = [10 + 5 * i + rng.uniform(-0.5, 0.5) for i in range(40)]
    series = []
    for _ in range(5):
        value, points = rng.uniform(1000, 5000), []
        for t in times:
            value += rng.randint(0, 50)
            points.append((t, value))
        series.append(points)
    summed = [(t, sum(s[i][1] for s in series)) for i, t in enumerate(times)]
    for start, end in ((0, 60), (50, 150), (100, 300), (150.3, 207.9)):
        assert sum(rate(s, start, end) for s in series) == pytest.approx(rate(summed, start, end))


def test_cross_check_steady_counter_scraped_irregularly_recovers_its_slope():
    rng = random.Random(11)
    t, points = 1000.0, []
    while t < 1400:
        points.append((t, 1e6 + 42.0 * t))
        t += rng.uniform(0.8, 1.2)
    assert rate(points, 1300, 1390) == pytest.approx(42.0, rel=1e-9)


# ---------------------------------------------------------------- histogram_quantile

BUCKETS = [(0.1, 10), (0.5, 60), (1.0, 90), (math.inf, 100)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.05, 0.05),  # lowest bucket, interpolated from 0: 0 + 0.1 * 5/10
        (0.5, 0.42),  # 0.1 + 0.4 * (50-10)/(60-10)
        (0.9, 1.0),  # exactly the top of the 1.0 bucket
        (0.6, 0.5),  # exactly the top of the 0.5 bucket
        (0.95, 1.0),  # in the +Inf bucket: the second-highest upper bound
        (1.0, 1.0),
        (0.0, 0.0),
    ],
)
def test_quantile_hand_computed(q, expected):
    assert histogram_quantile(q, BUCKETS) == pytest.approx(expected)


def test_q_outside_zero_one_is_infinite_and_nan_is_no_data():
    assert histogram_quantile(-0.1, BUCKETS) == -math.inf
    assert histogram_quantile(1.1, BUCKETS) == math.inf
    assert histogram_quantile(math.nan, BUCKETS) is None


def test_no_observations_is_no_data_not_zero():
    assert histogram_quantile(0.95, [(0.1, 0), (0.5, 0), (math.inf, 0)]) is None


def test_without_an_inf_bucket_or_with_too_few_buckets_is_no_data():
    assert histogram_quantile(0.5, [(0.1, 1), (0.5, 2)]) is None
    assert histogram_quantile(0.5, [(math.inf, 10)]) is None
    assert histogram_quantile(0.5, []) is None


def test_lowest_bucket_with_non_positive_bound_answers_its_bound():
    assert histogram_quantile(0.2, [(0.0, 5), (1.0, 10), (math.inf, 10)]) == 0.0
    assert histogram_quantile(0.2, [(-1.0, 5), (1.0, 10), (math.inf, 10)]) == -1.0
    # above the lowest bucket, interpolation starts from the lower bucket's bound
    assert histogram_quantile(0.75, [(-1.0, 5), (1.0, 10), (math.inf, 10)]) == pytest.approx(-1 + 2 * 2.5 / 5)


def test_buckets_are_sorted_by_bound_first():
    shuffled = [BUCKETS[2], BUCKETS[0], BUCKETS[3], BUCKETS[1]]
    assert histogram_quantile(0.5, shuffled) == pytest.approx(0.42)


def test_non_monotonic_counts_are_raised_to_the_running_maximum():
    # the 0.5 bucket reads 8 < 10: Prometheus treats it as 10 (ensureMonotonic)
    buckets = [(0.1, 10), (0.5, 8), (1.0, 20), (math.inf, 20)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)  # rank 10 reached in the first bucket
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.5 + 0.5 * 5 / 10)


def test_float_noise_in_counts_is_ignored():
    noisy = [(0.1, 10.0), (0.5, 10.0 + 1e-14), (1.0, 20.0), (math.inf, 20.0)]
    assert histogram_quantile(0.5, noisy) == pytest.approx(0.1)


def test_duplicate_bounds_are_merged():
    assert histogram_quantile(0.5, [(0.1, 5), (0.1, 5), (math.inf, 10)]) == pytest.approx(0.1 * 5 / 10)


def test_quantile_works_on_rates_not_just_counts():
    rates = [(0.1, 1.5), (0.5, 9.0), (1.0, 13.5), (math.inf, 15.0)]  # BUCKETS * 0.15
    assert histogram_quantile(0.5, rates) == pytest.approx(0.42)


def test_cross_check_uniform_observations_recover_the_quantile():
    rng = random.Random(5)
    observations = [rng.random() for _ in range(200_000)]
    bounds = [i / 10 for i in range(1, 11)] + [math.inf]
    buckets = [(b, sum(1 for o in observations if o <= b)) for b in bounds]
    for q in (0.1, 0.25, 0.5, 0.9, 0.95, 0.99):
        assert histogram_quantile(q, buckets) == pytest.approx(q, abs=0.005)
