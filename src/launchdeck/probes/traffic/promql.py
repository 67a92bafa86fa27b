"""PromQL's rate() and histogram_quantile(), as pure functions over plain numbers.

The scrape source computes its numbers from a service's /metrics without a Prometheus; for its
readings to mean what a Prometheus dashboard would show, these follow Prometheus' own code
(promql/functions.go extrapolatedRate, promql/quantile.go bucketQuantile) rule for rule, including
the odd-looking parts: extrapolation to the range boundaries, counter resets, the "+Inf bucket
answers with the second-highest bound" rule and the monotonicity repair of bucket counts.

Semantics follow current Prometheus (3.x): a range is left-open, (start, end], and the "do not
extrapolate below zero" limit is applied after the "half an interval" limit (prometheus#13725).
Prometheus 2.x before 2.51 differs only for a sample exactly on the range start and for a counter
born inside the range; the integration test compares against the Debian 2.42 binary.

No I/O; NaN and the other "no data" answers come back as None, ±Inf only for q outside [0, 1].
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Sequence

# "Close enough to the boundary to extrapolate all the way": 10 % more than the average interval.
_EXTRAPOLATION_SLACK = 1.1
# bucketQuantile's tolerance for float noise in bucket counts (correctPrecisionErrors).
_PRECISION_TOLERANCE = 1e-12


def rate(samples: Sequence[tuple[float, float]], range_start: float, range_end: float) -> float | None:
    """Per-second increase of a counter over (range_start, range_end], as PromQL `rate()` computes it.

    `samples` are (unix seconds, cumulative value), oldest first; samples outside the range are
    ignored. A decrease is a counter reset (the process restarted from 0), so the value before it
    is added back. The increase seen between the first and last sample is extrapolated towards the
    range boundaries: all the way when the sample is within 1.1 average intervals of it, else by
    half an average interval, and never to before the time the counter would have been zero.
    None when fewer than 2 samples fall inside the range (Prometheus returns no series).
    """
    span = range_end - range_start
    if span <= 0:
        return None
    points = [(t, v) for t, v in samples if range_start < t <= range_end]
    if len(points) < 2:
        return None
    points.sort(key=lambda p: p[0])
    first_t, first_v = points[0]
    last_t, last_v = points[-1]
    sampled = last_t - first_t
    if sampled <= 0:
        return None

    increase = last_v - first_v
    previous = first_v
    for _, value in points[1:]:
        if value < previous:
            increase += previous
        previous = value

    to_start = first_t - range_start
    to_end = range_end - last_t
    average = sampled / (len(points) - 1)
    threshold = average * _EXTRAPOLATION_SLACK
    if to_start >= threshold:
        to_start = average / 2
    if increase > 0 and first_v >= 0:
        # Counters cannot go below zero: do not extrapolate to before the counter's zero point.
        to_zero = sampled * (first_v / increase)
        to_start = min(to_start, to_zero)
    if to_end >= threshold:
        to_end = average / 2
    factor = (sampled + to_start + to_end) / sampled / span
    return increase * factor


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile from cumulative buckets (upper bound, count), as PromQL `histogram_quantile()`.

    Linear interpolation inside the bucket where the rank falls; the lowest bucket starts at 0
    when its upper bound is positive (else its upper bound is the answer); a rank in the +Inf
    bucket answers with the second-highest upper bound. q < 0 gives -Inf and q > 1 +Inf, as in
    Prometheus. None (Prometheus: NaN) for q NaN, no +Inf bucket, fewer than two buckets, or no
    observations. Counts that decrease with the bound are raised to the running maximum first.
    """
    if not buckets or math.isnan(q):
        return None
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(((float(bound), float(count)) for bound, count in buckets), key=lambda b: b[0])
    if not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return None
    merged = _coalesce(ordered)
    _correct_precision_errors(merged)
    _ensure_monotonic(merged)
    if len(merged) < 2:
        return None
    observations = merged[-1][1]
    if not observations > 0:  # zero, or NaN
        return None
    rank = q * observations
    # first bucket (the +Inf one excluded) whose cumulative count reaches the rank
    counts = [count for _, count in merged[:-1]]
    index = bisect_left(counts, rank)
    if index == len(merged) - 1:
        return merged[-2][0]
    if index == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[index][0], merged[index][1]
    if index > 0:
        start = merged[index - 1][0]
        count -= merged[index - 1][1]
        rank -= merged[index - 1][1]
    if count == 0:  # only for q == 0 over an empty lowest bucket: Go computes 0/0 = NaN
        return None
    return start + (end - start) * (rank / count)


def _coalesce(ordered: list[tuple[float, float]]) -> list[list[float]]:
    """Buckets with the same upper bound are one bucket (their counts add up), as in coalesceBuckets."""
    merged: list[list[float]] = []
    for bound, count in ordered:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    return merged


def _correct_precision_errors(merged: list[list[float]]) -> None:
    """A count that differs from the previous one only by float noise is set equal to it."""
    previous = merged[0][1]
    for bucket in merged[1:]:
        current = bucket[1]
        delta = abs(current - previous)
        if delta == 0:
            continue
        if current != 0 and delta / current <= _PRECISION_TOLERANCE:
            bucket[1] = previous
        else:
            previous = current


def _ensure_monotonic(merged: list[list[float]]) -> None:
    """Cumulative counts must not decrease with the bound: take the running maximum (the envelope)."""
    highest = merged[0][1]
    for bucket in merged[1:]:
        if bucket[1] > highest:
            highest = bucket[1]
        elif bucket[1] < highest:
            bucket[1] = highest
