"""Saved many_targets runs, grouped: each headline row's median over the runs of each group, and its
range, side by side. On a shared machine one run says little; three of each, taken in turns
(A, B, A, B, A, B) so both see the same load, say more.

    .venv/bin/python bench/many_targets_medians.py thread=thread-1,thread-2,thread-3 \\
        process=process-1,process-2,process-3 [--out bench/results/many_targets_medians.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from many_targets_report import HEADLINE_ROWS, headline, shown  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", metavar="NAME=LABEL,LABEL,...")
    parser.add_argument("--out", type=Path, help="also write the medians and every run's load average here")
    args = parser.parse_args()
    groups: dict[str, list[dict]] = {}
    for group in args.groups:
        name, _, labels = group.partition("=")
        groups[name] = [json.loads((HERE / "results" / f"many_targets_{label}.json").read_text())
                        for label in labels.split(",") if label]
    summary: dict = {"groups": {}, "runs": {}}
    print(f"{'':40s}" + "".join(f"{name + ' (' + str(len(runs)) + ')':>26s}" for name, runs in groups.items())
          + "   goal")
    for key, label, unit, goal in HEADLINE_ROWS:
        cells = []
        for name, runs in groups.items():
            values = [v for v in (headline(r).get(key) for r in runs) if v is not None and v != float("inf")]
            if not values:
                cells.append(f"{'-':>26s}")
                continue
            middle = statistics.median(values)
            summary["groups"].setdefault(name, {})[key] = {"median": middle, "min": min(values), "max": max(values)}
            spread = f" [{shown(min(values), unit)}-{shown(max(values), unit)}]" if len(values) > 1 else ""
            cells.append(f"{shown(middle, unit) + spread:>26s}")
        goal_text = "" if goal is None else ("≤ " if unit == "s" else "< " if unit else "") + shown(goal, unit)
        print(f"{label:40s}" + "".join(cells) + f"   {goal_text}")
    print("median [min-max] over the runs of each group")
    for name, runs in groups.items():
        for run in runs:
            machine = run["machine"]
            watched = machine.get("others_seen_while_measuring", {})
            summary["runs"][run["label"]] = {
                "group": name, "loadavg_at_start": machine.get("loadavg_at_start"),
                "loadavg_at_end": machine.get("loadavg_at_end"),
                "others_cpu_share_of_machine": watched.get("others_cpu_share_of_machine"),
                "left_running": machine.get("left_running", {}).get("unexpected")}
            print(f"  {run['label']:12s} load {machine.get('loadavg_at_start')} → {machine.get('loadavg_at_end')}; "
                  f"others used {100 * (watched.get('others_cpu_share_of_machine') or 0):.0f}% of the machine")
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
