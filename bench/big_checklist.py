"""Large checklists: parse time, checklist screen open time, peak memory and quit time.

Issue 11's bars for a 50,000-item checklist (~3.6 MB of Markdown): parse < 2 s, the TUI's
checklist screen open < 1 s, memory < 300 MB, quitting with that screen open < 1 s. Each size runs
in its own process (peak RSS is per process), in a temp dir, through the app the CLI builds
(`make_app` with no probes), driven by Textual's Pilot at 120x40.

    .venv/bin/python bench/big_checklist.py [SIZES...]    # default: 2000 50000

Writes bench/results/big_checklist.json and prints a table. The file mixes the shapes real lists
have (phase headings, bold labels, nested items, verify comments, a fenced block, twins), so
both the line scanner and markdown-it take part, not just the fast path.
"""

from __future__ import annotations

import asyncio
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "big_checklist.json"
BARS = {"parse_s": 2.0, "open_s": 1.0, "peak_rss_mb": 300.0, "quit_s": 1.0}


def checklist_text(items: int) -> str:
    """`items` task items in sections of 50 under rotating phase headings."""
    lines, made, section = ["# Big launch", "", "Owned by the platform team.", ""], 0, 0
    phases = ("Pre-launch", "Launch day", "Post-launch")
    while made < items:
        lines += [f"## {phases[section % 3]}: area {section}", ""]
        if section % 10 == 3:  # a section markdown-it reads: a fence and emphasis
            lines += ["```bash", "- [ ] not an item, a command", "```", "", "**Database**:", ""]
        for n in range(min(50, items - made)):
            if n % 25 == 24:
                lines.append(f"  - [ ] Sub-step of item {made - 1} confirmed by *two* people")
            elif n % 17 == 16:
                lines.append(f"- [ ] Service {made} healthy <!-- verify: services.all_ok -->")
            else:
                lines.append(f"- [ ] Check service number {made} responds within budget in region eu-{n % 7}")
            made += 1
        lines.append("")
        section += 1
    return "\n".join(lines) + "\n"


def measure(items: int) -> dict:
    """One size, in this process."""
    from launchdeck.checklists.signing import load_checklists
    from launchdeck.core.config import parse_config
    from launchdeck.core.model import FixedClock
    from launchdeck.tui.app import make_app
    from launchdeck.tui.screens.checklist import ChecklistScreen
    from launchdeck.tui.widgets.checklist_items import ItemList

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text = checklist_text(items)
        (folder / "launch.md").write_text(text)
        config = parse_config('[deck]\nname = "big"\n[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n',
                              str(folder / "launchdeck.toml"), {})
        started = time.perf_counter()
        parsed = load_checklists(config)
        parse_s = time.perf_counter() - started
        count = sum(len(c.items) for c in parsed)

        app = make_app(config, probes=[], clock=FixedClock())
        timings: dict[str, float] = {}

        async def run() -> None:
            async with app.run_test(size=(120, 40)) as pilot:
                await pilot.pause()
                started = time.perf_counter()
                await pilot.press("c")
                while not (isinstance(app.screen, ChecklistScreen) and app.screen.query(ItemList)
                           and app.screen._list().size.height):
                    await pilot.pause(0.005)
                await pilot.pause()  # the first frame painted
                timings["open_s"] = time.perf_counter() - started
                listing = app.screen._list()
                timings["moved"] = float(listing.cursor)
                await pilot.press("end", "pageup", "down")
                timings["moved"] = float(listing.cursor)
                timings["quit_from"] = time.perf_counter()
                await pilot.press("q")
            timings["quit_s"] = time.perf_counter() - timings.pop("quit_from")

        asyncio.run(run())
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"items": count, "markdown_mb": round(len(text.encode()) / 2**20, 2), "parse_s": round(parse_s, 3),
                "open_s": round(timings["open_s"], 3), "peak_rss_mb": round(peak_mb, 1),
                "quit_s": round(timings["quit_s"], 3), "cursor_after_end_pageup_down": int(timings["moved"])}


RUNS = 3  # fresh processes per size: this kind of machine (a VM with neighbours) varies 1.3-2.2 s run to run


def main(sizes: list[int]) -> None:
    rows = []
    for size in sizes:  # a fresh process per run: peak RSS is the process's
        runs = []
        for _ in range(RUNS):
            out = subprocess.run([sys.executable, __file__, "--one", str(size)], capture_output=True, text=True,
                                 timeout=900)
            if out.returncode != 0:
                sys.exit(f"size {size} failed:\n{out.stderr}")
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}  # judged on the median
        row["items"] = runs[0]["items"]
        row["runs"] = runs
        rows.append(row)
    for row in rows:
        row["within_bars"] = {name: row[name] < bar for name, bar in BARS.items()}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"bars": BARS, "machine": platform.platform(), "python": platform.python_version(),
                                   "runs_per_size": RUNS, "runs": rows}, indent=2) + "\n")
    print(f"median of {RUNS} runs per size (min-max in brackets)")
    print(f"{'items':>7} {'MB':>5} {'parse s':>16} {'open s':>16} {'RSS MB':>7} {'quit s':>7}")
    for row in rows:
        spread = {key: (min(r[key] for r in row["runs"]), max(r[key] for r in row["runs"]))
                  for key in ("parse_s", "open_s")}
        print(f"{row['items']:>7} {row['markdown_mb']:>5} "
              f"{row['parse_s']:>6} [{spread['parse_s'][0]}-{spread['parse_s'][1]}] "
              f"{row['open_s']:>6} [{spread['open_s'][0]}-{spread['open_s'][1]}] "
              f"{row['peak_rss_mb']:>7} {row['quit_s']:>7}")
    print(f"bars: {BARS}; written to {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]))))
    else:
        main([int(arg) for arg in sys.argv[1:]] or [2000, 50000])
