"""The one table of every benchmark's latest result: launchdeck beside glances, `docker stats` and htop
where a bench measured them, with the machine it ran on.

Reads bench/results/*.json (whatever is there: a missing or older-shaped file leaves its rows out),
prints a Markdown table, and with --write-readme puts it in README.md between the markers
`<!-- bench:begin -->` and `<!-- bench:end -->`. `--record-machine` (what `make bench` runs first)
writes bench/results/machine.json: cpu count, model, kernel and the load average before the run.

    .venv/bin/python bench/summary.py [--record-machine] [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
Row = tuple[str, str, str, str, str, str]  # measure, launchdeck, glances, docker stats, htop, bench


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # not Linux: the platform's word for it
        pass
    return platform.processor() or "unknown"


def machine_now() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "model": cpu_model(), "kernel": platform.release(),
            "load": [round(v, 2) for v in os.getloadavg()], "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def load(name: str) -> Any:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} %"


def med(value: Any) -> Any:
    """A median where a bench keeps {median, min, max}, the number itself where it keeps one."""
    return value["median"] if isinstance(value, dict) else value


def _tui(rows: list[Row]) -> None:
    data = load("tui_cost")
    if not data:
        return
    start = data["startup"].get("after", data["startup"])  # keyed by variant since the before/after runs
    for key, label in (("first_full_paint_s", "first full paint, 120x40 (median)"),
                       ("first_paint_s", "first paint, 80x24 (median)"),
                       ("first_live_row_s", "first live row (median)"), ("all_live_s", "every target live (median)")):
        if start.get(key):
            rows.append((label, f"{med(start[key]):.2f} s", "", "", "", "tui_cost"))
    by: dict[tuple[str, str, str], dict] = {}
    for row in data["idle"]:
        tool = "launchdeck" if row["tool"] in ("launchdeck", "launchdeck after") else row["tool"]
        by[(tool, row.get("refresh", "2s"), row["size"])] = row
    services = (data.get("config") or {}).get("services", 5)
    for refresh in ("2s", "5s"):
        for size in ("80x24", "120x40"):
            def cell(tool: str, key: str, fmt: Callable[[float], str], at: tuple = (refresh, size)) -> str:
                row = by.get((tool, *at))
                return fmt(med(row[key])) if row and key in row else ""

            if ("launchdeck", refresh, size) not in by:
                continue
            what = f"{size}, {refresh} refresh, {services} services"
            rows.append((f"idle CPU, {what} (% of one core)", cell("launchdeck", "cpu_percent_of_core", pct),
                         cell("glances", "cpu_percent_of_core", pct), "", cell("htop", "cpu_percent_of_core", pct),
                         "tui_cost"))
            rows.append((f"terminal bytes/s, {what}", cell("launchdeck", "terminal_bytes_per_s", lambda v: f"{v:.0f}"),
                         cell("glances", "terminal_bytes_per_s", lambda v: f"{v:.0f}"), "",
                         cell("htop", "terminal_bytes_per_s", lambda v: f"{v:.0f}"), "tui_cost"))
            rows.append((f"peak RSS, {what}", cell("launchdeck", "peak_rss_mb", lambda v: f"{v:.0f} MB"),
                         cell("glances", "peak_rss_mb", lambda v: f"{v:.0f} MB"), "",
                         cell("htop", "peak_rss_mb", lambda v: f"{v:.0f} MB"), "tui_cost"))
    for (tool, refresh, size), row in by.items():
        if tool.startswith(("engine only", "probes only")) and not tool.endswith("before"):
            rows.append((f"probes alone, no UI, {refresh} (% of one core)", pct(med(row["cpu_percent_of_core"])),
                         "", "", "", "tui_cost"))


def _containers(rows: list[Row]) -> None:
    data = load("containers")
    if not data:
        return
    mean = data["median_of_rounds"]
    docker = mean["docker stats"]["total_cpu_pct"]
    what = f"{data['containers']} busy containers, CPU incl. dockerd + containerd + shims (+ sshd)"
    for tool, label in (("launchdeck", "local"), ("remote (ssh, files)", "remote host over SSH"),
                        ("remote engine-only", "remote, engine API (before)")):
        if tool in mean:
            total = mean[tool]["total_cpu_pct"]
            rows.append((f"{what}: {label}", f"{pct(total)} ({total / docker:.2f}x)", "", pct(docker), "", "containers"))
    if "load_before" in data:
        rows.append((f"{what}: load average when the run began", f"{data['load_before']:.2f}", "", "", "", "containers"))


def _soak(rows: list[Row]) -> None:
    for name in ("soak", "soak_quick"):
        data = load(name)
        if not data:
            continue
        table = data["table"]
        growth = max(r["rss_growth_mb"] for r in table)
        cycles = min(r["cycles"] for r in table)
        starts = ", ".join(f"{r['rss_start_mb']:.0f}→{r['rss_end_mb']:.0f}" for r in table)
        flat = all(data["pass"][k] for k in ("no_task_growth", "no_thread_growth", "no_fd_growth"))
        rows.append((f"soak ({name}): {data['dashboards']} dashboards, {cycles} cycles at {data['interval_s']} s, "
                     f"RSS MB start→end", f"{starts} (worst +{growth:.1f} MB)", "", "", "", name))
        history = ", ".join(r.get("history_readings", "?") for r in table)
        rows.append((f"soak ({name}): readings held in the engine's bounded history, start→end", history,
                     "", "", "", name))
        rows.append((f"soak ({name}): tasks / threads / fds flat, errors",
                     f"{'flat' if flat else 'GREW'}, {sum(r['errors'] for r in table)} errors", "", "", "", name))


def _serve_and_wall(rows: list[Row]) -> None:
    serve = load("serve_viewers")
    if serve:
        last = serve["rows"][-1]
        rows.append((f"`launchdeck serve` with {last['viewers']} viewers: CPU, RSS",
                     f"{pct(last['cpu_percent'])}, {last['rss_mb']:.0f} MB", "", "", "", "serve_viewers"))
    wall = load("wall_idle")
    if wall:
        for run in wall["runs"]:
            rows.append((f"{run['view']} {run['size']}: CPU, terminal bytes/s",
                         f"{pct(run['cpu_percent'])}, {run['bytes_per_s']:.0f}", "", "", "", "wall_idle"))


def _small(rows: list[Row]) -> None:
    http = load("http_cost")
    if http:
        median = http["median_cpu_ms_per_request"]
        rows.append(("CPU per health check (lean / httpx default)", f"{median['lean']:.2f} / {median['default']:.2f} ms",
                     "", "", "", "http_cost"))
    many = load("many_targets_after")
    if many and "headline" in many:
        head = many["headline"]
        rows.append(("200 targets (20 hanging): `launchdeck check` cycle", f"{head.get('check_cycle_s', 0):.2f} s",
                     "", "", "", "many_targets"))
    ledger = load("ledger")
    if ledger:
        rows.append(("durable sign-off (flock + write + fsync), p50", f"{ledger['append_fsync']['p50_ms']:.2f} ms",
                     "", "", "", "ledger"))
    backups = load("backups_listing")
    if backups:
        timings = backups["timings"]
        local = next((v for k, v in timings.items() if k.startswith("probe local")), None)
        if local:
            rows.append((f"backups panel refresh, {backups['files']} dumps (local)", f"{local['median_ms']:.0f} ms",
                         "", "", "", "backups_listing"))
    checklist = load("big_checklist")
    if checklist:
        biggest = checklist["runs"][-1]
        rows.append((f"checklist of {biggest['items']} items: parse, open, peak RSS",
                     f"{biggest['parse_s']:.2f} s, {biggest['open_s']:.2f} s, {biggest['peak_rss_mb']:.0f} MB",
                     "", "", "", "big_checklist"))
    prom = load("prometheus_agreement")
    if prom:
        bad = sum(s.get("disagreements", 0) for s in prom["scenarios"])
        rows.append(("traffic panel vs Prometheus: disagreeing polls", f"{bad} of {sum(s['polls'] for s in prom['scenarios'])}",
                     "", "", "", "prometheus_agreement"))


SECTIONS: list[Callable[[list[Row]], None]] = [_tui, _containers, _soak, _serve_and_wall, _small]


def table() -> str:
    rows: list[Row] = []
    problems = []
    for section in SECTIONS:
        try:
            section(rows)
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as error:  # an older result's shape
            problems.append(f"{section.__name__.strip('_')}: result not in the expected shape ({error!r})")
    recorded = load("machine") or {}
    now = machine_now()
    machine = {**now, **{k: v for k, v in recorded.items() if k != "load"}}
    load_text = f"load {recorded['load']} before the run, {now['load']} after" if "load" in recorded else f"load {now['load']}"
    lines = [f"Machine: {machine['cpus']} CPUs, {machine['model']}, Linux {machine['kernel']}; {load_text} "
             f"(1/5/15 min); {recorded.get('at', now['at'])}.", "",
             "| measure | launchdeck | glances | `docker stats` | htop | bench |", "|---|---|---|---|---|---|"]
    lines += [f"| {' | '.join(cell or '' for cell in row[:5])} | `{row[5]}` |" for row in rows]
    lines += [f"\n_{problem}_" for problem in problems]
    return "\n".join(lines) + "\n"


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"{README}: no {BEGIN} / {END} markers to write between")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record-machine", action="store_true", help="write results/machine.json and stop")
    parser.add_argument("--write-readme", action="store_true", help=f"write the table into README between {BEGIN} / {END}")
    args = parser.parse_args()
    if args.record_machine:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "machine.json").write_text(json.dumps(machine_now(), indent=2) + "\n")
        return
    text = table()
    print(text)
    if args.write_readme:
        write_readme(text)
        print(f"written into {README.name} between {BEGIN} and {END}")


if __name__ == "__main__":
    main()
