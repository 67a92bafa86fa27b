"""CPU of the checklist evidence the engine re-judges on every reading, after a quarter of an hour.

The packaged checklists' `verify` conditions (services.all_ok, traffic.error_ratio < 1% for 15m, ...)
are re-judged on every reading of their panel. Fed: 20 services and 4 traffic sources every 2 s,
steady and healthy, for --minutes of simulated time; then --readings more are timed. "walk": every
condition of every item judged by walking the kept history of every target (until issue 14);
"memo": ChecklistSession.observe as it is (each distinct condition once, since-when memo).

    .venv/bin/python bench/evidence_cost.py [--minutes 15]

Writes bench/results/evidence_cost.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from launchdeck.checklists.evidence import evaluate
from launchdeck.checklists.parser import default_checklists
from launchdeck.checklists.session import ChecklistSession
from launchdeck.core.model import Reading, Status

HERE = Path(__file__).resolve().parent
SERVICES, TRAFFIC, REFRESH = 20, 4, 2.0
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def reading(index: int) -> Reading:
    at = T0 + timedelta(seconds=REFRESH * (index // (SERVICES + TRAFFIC)))
    slot = index % (SERVICES + TRAFFIC)
    if slot < TRAFFIC:
        return Reading("traffic", f"t{slot}", Status.OK, "", {"error_ratio": 0.001, "p95_seconds": 0.2}, at, 0.01)
    return Reading("services", f"s{slot}", Status.OK, "", {"latency_seconds": 0.005}, at, 0.01)


def walk_observe(session: ChecklistSession, new: Reading) -> None:
    """The observe() of before issue 14: every item's condition, every target walked."""
    for key, condition in session._conditions.items():
        if isinstance(condition, Exception) or (condition.panel != new.panel and key in session.evidence):
            continue
        result = evaluate(condition, session.history, new.observed_at)
        session.evidence[key] = (result.state, result.detail)


def cost(mode: str, minutes: float, timed: int) -> dict:
    session = ChecklistSession(default_checklists(), Path(tempfile.mkdtemp()) / "ledger.jsonl")
    warm = int(minutes * 60 / REFRESH) * (SERVICES + TRAFFIC)
    for index in range(warm + timed):
        new = reading(index)
        session.history.add(new)
        if index == warm:
            started = time.process_time()
        if mode == "memo":
            session.observe(new, new.observed_at)
        else:
            walk_observe(session, new)
    per_reading = (time.process_time() - started) / timed
    readings_per_second = (SERVICES + TRAFFIC) / REFRESH
    return {"us_per_reading": round(per_reading * 1e6, 1),
            "percent_of_a_core": round(100 * per_reading * readings_per_second, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--readings", type=int, default=1200)
    args = parser.parse_args()
    result = {"load_average": os.getloadavg(), "services": SERVICES, "traffic": TRAFFIC, "refresh_s": REFRESH,
              "after_minutes": args.minutes, **{mode: cost(mode, args.minutes, args.readings) for mode in ("walk", "memo")}}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "evidence_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"evidence re-judged per reading after {args.minutes:g} min (load {result['load_average'][0]:.1f})")
    for mode in ("walk", "memo"):
        print(f"  {mode:5} {result[mode]['us_per_reading']:>8.1f} us/reading  {result[mode]['percent_of_a_core']:>6.3f} % of a core")


if __name__ == "__main__":
    main()
