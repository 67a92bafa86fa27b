"""The many_targets numbers as people read them: stats over samples, the report of one run, the
headline figures the requirement names and the side-by-side table; apart from the measuring, so
`many_targets.py --compare` re-reads saved results without starting anything."""

from __future__ import annotations

import statistics

from many_targets_setup import (
    HANG_EVERY,
    KEY_GOAL_MS,
    NORMAL,
    REFRESH,
    SIZE,
    TARGETS,
    TIMEOUT,
)


def stats(values: list[float], digits: int = 4) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered) + 0.5) - 1))]  # nearest rank
    return {"n": len(values), "median": round(statistics.median(values), digits), "p95": round(p95, digits),
            "min": round(ordered[0], digits), "max": round(ordered[-1], digits)}


def count(items) -> dict[str, int]:
    found: dict[str, int] = {}
    for item in items:
        found[item] = found.get(item, 0) + 1
    return found


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1000 * seconds:.0f}ms" if seconds < 10 else f"{seconds:.1f}s"


def report(result: dict) -> None:
    src = result["source"]
    print(f"\nmany_targets [{result['label']}]  launchdeck {src['commit']} from {src['src']}"
          f"{' (+%d uncommitted)' % src['uncommitted_changes_under_src'] * bool(src['uncommitted_changes_under_src'])}"
          f"  {result['machine']['nproc']} cores, load {result['machine']['loadavg_at_start'][0]:.2f}")
    for line in result["machine"]["busy_processes_at_start"]:
        print(f"  busy at start (other work on this machine skews the numbers): {line}")
    print(f"{TARGETS} targets, {TARGETS // HANG_EVERY} hanging, timeout {TIMEOUT:g}s (cycle goal {TIMEOUT + 0.5:g}s), "
          f"refresh {REFRESH:g}s; goals: fast median < 20ms, p95 < 50ms, 0 false warns, key < 100ms")
    c = result["curl"]["latency_s"]
    print(f"  curl ({result['curl']['paths']} fast paths)    median {ms(c['median']):>6}  p95 {ms(c['p95']):>6}")
    for key in ("key_baseline", "key_baseline_normal", "key_baseline_normal_200"):
        base = result.get(key, {})
        if base.get("latency_ms"):
            again = base.get("refresh_latency_ms")
            print(f"  idle deck, {base.get('note', '3 fast targets')}, at {base['size']}: first paint "
                  f"{base.get('first_paint_s')}s; key '?' median {base['latency_ms']['median']}ms max "
                  f"{base['latency_ms']['max']}ms" + (f", key 'r' median {again['median']}ms max {again['max']}ms"
                                                      if again else "") + " (drawing alone, at this size)")
    check = result["check"]
    for index, run in enumerate(check["runs"], 1):
        if "error" in run:
            print(f"  check run {index}: FAILED (exit {run['exit']}): {run['error'].strip().splitlines()[-1:]}")
            continue
        f = run["fast_latency_s"]
        print(f"  check run {index}: wall {run['wall_s']:.2f}s "
              f"(start-up alone {check['startup_only_s'][index - 1]:.2f}s)"
              f"  median {ms(f.get('median')):>6}  p95 {ms(f.get('p95')):>6}  max {ms(f.get('max')):>6}"
              f"  false warns {len(run['false_warns'])}  hanging {run['hanging']['statuses']}"
              f"{'  MISSING %d targets' % len(run.get('targets_missing', ())) if run.get('targets_missing') else ''}"
              f"  all {TARGETS} in --json: {'yes' if run.get('all_targets_in_json') else 'NO'}"
              + (f"  cycle {run['cycle_s_first_request_to_exit']:.2f}s from its first request"
                 if "cycle_s_first_request_to_exit" in run else ""))
    if "median_of_runs" in check:
        m = check["median_of_runs"]
        print(f"  check median:  wall {m['wall_s']:.2f}s - start-up {m['startup_only_s']:.2f}s = "
              f"{m['wall_s'] - m['startup_only_s']:.2f}s  median {ms(m['fast_median_s'])}  p95 {ms(m['fast_p95_s'])}"
              f"  false warns {m['false_warns']:g}")
    for index, tui in enumerate(result["tui"], 1):
        if "final" not in tui:
            print(f"  TUI run {index}: FAILED: {tui.get('error', '?')[:300]}")
            continue
        first, final = tui["first_cycle"], tui["final"]
        f1, f2 = first["fast_latency_s"], final["fast_latency_s"]
        keys = tui["key_latency_ms"]
        after = lambda s: "never" if s is None else f"+{s:.2f}s"  # noqa: E731
        print(f"  TUI run {index}: first paint {tui['first_paint_s']:.2f}s after start; after it, every row out of "
              f"wait {after(tui['all_landed_s_after_paint'])}, 180 fast latencies on screen "
              f"{after(tui['fast_latencies_s_after_paint'])}")
        print(f"      first cycle: {first['fast_with_latency']} fast rows with a latency, median {ms(f1.get('median'))}"
              f" p95 {ms(f1.get('p95'))} max {ms(f1.get('max'))};  end: median {ms(f2.get('median'))}"
              f" p95 {ms(f2.get('p95'))} max {ms(f2.get('max'))}")
        print(f"      fast rows ever not ok: {len(tui['fast_rows_ever_not_ok'])}  flapping rows: "
              f"{len(tui['rows_ever_flapping'])}  hanging rows {final['hanging']}")
        for line in list(tui.get("fast_rows_not_ok_said", {}).values())[:2]:
            print(f"        e.g. {line}")
        print(f"      key '?': first cycle {keys['first_cycle']}ms; all {keys['all'] and keys['all']['n']} presses "
              f"median {keys['all'] and keys['all']['median']}ms max {keys['all'] and keys['all']['max']}ms"
              f"{'; unanswered %d' % keys['unanswered'] if keys['unanswered'] else ''}")
        hung = tui.get("hanging_timeouts")
        if hung and hung["shown_s_after_paint"]["n"]:
            print(f"      hanging rows 'timeout': after paint {hung['shown_s_after_paint']['min']:.2f}-"
                  f"{hung['shown_s_after_paint']['max']:.2f}s, after their own request "
                  f"{hung['shown_s_after_its_request'].get('min', float('nan')):.2f}-"
                  f"{hung['shown_s_after_its_request'].get('max', float('nan')):.2f}s; first request "
                  f"{hung['first_request_s_after_paint']}s after paint; cycle (first request → last timeout) "
                  f"{hung['cycle_s_first_request_to_last_timeout']}s; never: {len(hung['never_timed_out'])}")
        side = tui.get("server_side")
        if side and side["hanging_held_s"]["n"]:
            print(f"      server side: {side['requests']} requests, first {side.get('first_request_s_after_paint')}s "
                  f"after the first paint; hanging samples held {side['hanging_held_s']['min']:.3f}-"
                  f"{side['hanging_held_s']['max']:.3f}s by the client")
        if tui.get("error"):
            print(f"      error: {tui['error'][:300]}")
    for index, run in enumerate(result.get("tui_normal", []), 1):
        if "keys_help" not in run:
            print(f"  TUI {run['size']} run {index}: FAILED: {run.get('error', '?')[:300]}")
            continue
        for key, field in (("?", "key_help_ms"), ("r", "key_refresh_ms")):
            k = run[field]
            print(f"  TUI {run['size']} run {index} (first paint {run['first_paint_s']:.2f}s): key '{key}' first cycle "
                  f"{k['first_cycle']}ms; {k['all'] and k['all']['n']} presses median {k['all'] and k['all']['median']}"
                  f"ms p95 {k['all'] and k['all']['p95']}ms max {k['all'] and k['all']['max']}ms; "
                  f"≥ {KEY_GOAL_MS:.0f}ms: {k['over_goal']}")
            presses = run["keys_help" if key == "?" else "keys_refresh"]
            print("      ms (hanging samples in flight, requests in the second before): " + ", ".join(
                f"{p['latency_ms']}({p.get('engine_load', {}).get('hanging_in_flight', '?')},"
                f"{p.get('engine_load', {}).get('requests_in_last_1s', '?')})" for p in presses))
        side = run.get("server_side")
        if side:
            print(f"      server side: first request {side.get('first_request_s_after_paint')}s after the first paint; "
                  f"hanging samples held {side['hanging_held_s'].get('max')}s at most")
        if run.get("error"):
            print(f"      error: {run['error'][:300]}")


def headline(result: dict) -> dict:
    """The numbers the requirement names, across runs: medians of medians, the worst of counts.
    Results saved before a figure existed show "-" for it."""
    med = lambda xs: round(statistics.median(xs), 4) if xs else None  # noqa: E731
    worst = lambda xs: max(xs) if xs else None  # noqa: E731
    checks = [r for r in result["check"]["runs"] if "error" not in r and r["fast_latency_s"]["n"]]
    tuis = [t for t in result["tui"] if "final" in t]
    keys = [k["latency_ms"] for t in tuis for k in t["keys"]]
    answered = [k for k in keys if k is not None]
    startup = med(result["check"]["startup_only_s"])
    timeouts = [t["hanging_timeouts"] for t in tuis if "hanging_timeouts" in t]
    normal = [t for t in result.get("tui_normal", []) if "keys_help" in t]
    helps = [k["latency_ms"] for t in normal for k in t["keys_help"]]
    refreshes = [k["latency_ms"] for t in normal for k in t["keys_refresh"]]

    def key_figures(prefix: str, latencies: list[float | None], first: list[float | None]) -> dict:
        got = [k for k in latencies if k is not None]
        return {f"{prefix}_first_cycle_ms_worst": worst([k if k is not None else float("inf") for k in first]),
                f"{prefix}_presses": len(latencies) if latencies else None,
                f"{prefix}_median_ms": med(got), f"{prefix}_p95_ms": stats(got, 1).get("p95"),
                f"{prefix}_max_ms": worst(got),
                f"{prefix}_over_goal": sum(1 for k in latencies if k is None or k >= KEY_GOAL_MS) if latencies else None,
                f"{prefix}_unanswered": len(latencies) - len(got) if latencies else None}

    baseline = lambda key, field="latency_ms": (result.get(key, {}).get(field) or {}).get("median")  # noqa: E731
    return {
        "curl_median_s": result["curl"]["latency_s"]["median"],
        "curl_p95_s": result["curl"]["latency_s"]["p95"],
        "check_wall_s": med([r["wall_s"] for r in checks]),
        "check_startup_only_s": startup,
        "check_cycle_s": med([r["wall_s"] - startup for r in checks]) if checks and startup is not None else None,
        "check_cycle_from_first_request_s": med([r["cycle_s_first_request_to_exit"] for r in checks
                                                 if "cycle_s_first_request_to_exit" in r]),
        "check_fast_median_s": med([r["fast_latency_s"]["median"] for r in checks]),
        "check_fast_p95_s": med([r["fast_latency_s"]["p95"] for r in checks]),
        "check_false_warns_worst": worst([len(r["false_warns"]) for r in checks]),
        "check_targets_missing_worst": worst([len(r["targets_missing"]) if "targets_missing" in r
                                              else TARGETS - r["readings"] for r in checks]),
        "check_failed_runs": len(result["check"]["runs"]) - len(checks),
        "tui_first_paint_s": med([t["first_paint_s"] for t in tuis]),
        "tui_all_landed_after_paint_s": worst([t["all_landed_s_after_paint"] for t in tuis
                                               if t.get("all_landed_s_after_paint") is not None]),
        "tui_timeouts_shown_after_paint_max_s": worst([t["shown_s_after_paint"]["max"] for t in timeouts
                                                       if t["shown_s_after_paint"]["n"]]),
        "tui_timeouts_after_own_request_max_s": worst([t["shown_s_after_its_request"]["max"] for t in timeouts
                                                       if t["shown_s_after_its_request"]["n"]]),
        "tui_cycle_from_first_request_s": worst([t["cycle_s_first_request_to_last_timeout"] for t in timeouts
                                                 if t.get("cycle_s_first_request_to_last_timeout") is not None]),
        "tui_hanging_never_timed_out_worst": worst([len(t["never_timed_out"]) for t in timeouts]),
        "tui_first_cycle_fast_without_latency_worst": worst([TARGETS - TARGETS // HANG_EVERY
                                                             - t["first_cycle"]["fast_with_latency"] for t in tuis]),
        "tui_first_cycle_fast_median_s": med([t["first_cycle"]["fast_latency_s"].get("median") for t in tuis
                                              if t["first_cycle"]["fast_latency_s"]["n"]]),
        "tui_first_cycle_fast_p95_s": med([t["first_cycle"]["fast_latency_s"].get("p95") for t in tuis
                                           if t["first_cycle"]["fast_latency_s"]["n"]]),
        "tui_end_fast_median_s": med([t["final"]["fast_latency_s"].get("median") for t in tuis
                                      if t["final"]["fast_latency_s"]["n"]]),
        "tui_end_fast_p95_s": med([t["final"]["fast_latency_s"].get("p95") for t in tuis
                                   if t["final"]["fast_latency_s"]["n"]]),
        "tui_fast_rows_ever_not_ok_worst": worst([len(t["fast_rows_ever_not_ok"]) for t in tuis]),
        "tui_flapping_rows_worst": worst([len(t["rows_ever_flapping"]) for t in tuis]),
        "key_first_cycle_ms_worst": worst([t["keys"][0]["latency_ms"] or float("inf") for t in tuis]),
        "key_presses": len(keys),
        "key_median_ms": med(answered),
        "key_max_ms": worst(answered),
        "key_unanswered": len(keys) - len(answered),
        "key_baseline_median_ms": baseline("key_baseline"),
        "tui_failed_runs": len(result["tui"]) - len(tuis),
        "normal_first_paint_s": med([t["first_paint_s"] for t in normal]),
        **key_figures("normal_help", helps, [t["keys_help"][0]["latency_ms"] for t in normal]),
        **key_figures("normal_refresh", refreshes, [t["keys_refresh"][0]["latency_ms"] for t in normal]),
        "normal_help_baseline_median_ms": baseline("key_baseline_normal"),
        "normal_refresh_baseline_median_ms": baseline("key_baseline_normal", "refresh_latency_ms"),
        "normal_help_idle200_median_ms": baseline("key_baseline_normal_200"),
        "normal_refresh_idle200_median_ms": baseline("key_baseline_normal_200", "refresh_latency_ms"),
        "normal_fast_rows_ever_not_ok_worst": worst([len(t["fast_rows_ever_not_ok"]) for t in normal]),
        "normal_failed_runs": len(result["tui_normal"]) - len(normal) if "tui_normal" in result else None,
    }


W, H = SIZE
w, h = NORMAL
HEADLINE_ROWS = [  # (key, label, unit, goal: the value must be at most this)
    ("curl_median_s", "curl median (truth)", "ms", None),
    ("curl_p95_s", "curl p95", "ms", None),
    ("check_wall_s", "check wall", "s", None),
    ("check_startup_only_s", "check start-up alone", "s", None),
    ("check_cycle_s", "check cycle (wall - start-up)", "s", TIMEOUT + 0.5),
    ("check_cycle_from_first_request_s", "check cycle (1st request → exit)", "s", TIMEOUT + 0.5),
    ("check_fast_median_s", "check fast median", "ms", 0.020),
    ("check_fast_p95_s", "check fast p95", "ms", 0.050),
    ("check_false_warns_worst", "check fast targets not ok (worst)", "", 0),
    ("check_targets_missing_worst", "check targets missing in --json", "", 0),
    ("tui_first_paint_s", f"TUI {W}x{H} first paint after start", "s", None),
    ("tui_all_landed_after_paint_s", "TUI every row out of wait, after paint", "s", None),
    ("tui_timeouts_shown_after_paint_max_s", "TUI last 'timeout' row, after paint", "s", TIMEOUT + 0.5),
    ("tui_cycle_from_first_request_s", "TUI cycle (1st request → last timeout)", "s", TIMEOUT + 0.5),
    ("tui_timeouts_after_own_request_max_s", "TUI 'timeout' after its own request", "s", TIMEOUT + 0.5),
    ("tui_hanging_never_timed_out_worst", "TUI hanging rows never 'timeout'", "", 0),
    ("tui_first_cycle_fast_without_latency_worst", "TUI first cycle: fast rows, no ms", "", 0),
    ("tui_first_cycle_fast_median_s", "TUI fast median, first cycle", "ms", 0.020),
    ("tui_first_cycle_fast_p95_s", "TUI fast p95, first cycle", "ms", 0.050),
    ("tui_end_fast_median_s", "TUI fast median, at the end", "ms", 0.020),
    ("tui_end_fast_p95_s", "TUI fast p95, at the end", "ms", 0.050),
    ("tui_fast_rows_ever_not_ok_worst", "TUI fast rows ever not ok (worst)", "", 0),
    ("tui_flapping_rows_worst", "TUI rows with a flap mark", "", 0),
    ("key_first_cycle_ms_worst", f"key ? {W}x{H} first cycle (worst)", "ms-raw", None),
    ("key_median_ms", f"key ? {W}x{H} median", "ms-raw", None),
    ("key_max_ms", f"key ? {W}x{H} max", "ms-raw", None),
    ("key_unanswered", f"key ? {W}x{H} unanswered in 5 s", "", 0),
    ("key_baseline_median_ms", f"key ? {W}x{H}, idle 3-target deck", "ms-raw", None),
    ("normal_first_paint_s", f"TUI {w}x{h} first paint after start", "s", None),
    ("normal_help_first_cycle_ms_worst", f"key ? {w}x{h} first cycle", "ms-raw", KEY_GOAL_MS),
    ("normal_help_presses", f"key ? {w}x{h} presses", "", None),
    ("normal_help_median_ms", f"key ? {w}x{h} median", "ms-raw", KEY_GOAL_MS),
    ("normal_help_p95_ms", f"key ? {w}x{h} p95", "ms-raw", KEY_GOAL_MS),
    ("normal_help_max_ms", f"key ? {w}x{h} max", "ms-raw", KEY_GOAL_MS),
    ("normal_help_over_goal", f"key ? {w}x{h} presses ≥ 100ms", "", 0),
    ("normal_help_baseline_median_ms", f"key ? {w}x{h}, idle 3-target deck", "ms-raw", None),
    ("normal_help_idle200_median_ms", f"key ? {w}x{h}, 200 targets, no polls", "ms-raw", None),
    ("normal_refresh_first_cycle_ms_worst", f"key r {w}x{h} first cycle", "ms-raw", KEY_GOAL_MS),
    ("normal_refresh_median_ms", f"key r {w}x{h} median", "ms-raw", KEY_GOAL_MS),
    ("normal_refresh_p95_ms", f"key r {w}x{h} p95", "ms-raw", KEY_GOAL_MS),
    ("normal_refresh_max_ms", f"key r {w}x{h} max", "ms-raw", KEY_GOAL_MS),
    ("normal_refresh_over_goal", f"key r {w}x{h} presses ≥ 100ms", "", 0),
    ("normal_refresh_baseline_median_ms", f"key r {w}x{h}, idle 3-target deck", "ms-raw", None),
    ("normal_refresh_idle200_median_ms", f"key r {w}x{h}, 200 targets, idle", "ms-raw", None),
]


def shown(value, unit: str) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return "none"
    if unit == "ms":
        return f"{1000 * value:.0f}ms"
    if unit == "ms-raw":
        return f"{value:.0f}ms"
    if unit == "s":
        return f"{value:.2f}s"
    return f"{value:g}"


def table(results: list[dict]) -> None:
    heads = [r["label"] for r in results]
    print(f"{'':40s}" + "".join(f"{h:>14s}" for h in heads) + "   goal")
    for key, label, unit, goal in HEADLINE_ROWS:
        cells = []
        for result in results:
            value = headline(result).get(key)
            below = unit == "ms-raw" or key.endswith("_over_goal")  # "under 100 ms": 100 itself misses
            mark = "" if goal is None or value is None else (" " if (value < goal if below and goal else
                                                                      value <= goal) else "!")
            cells.append(f"{shown(value, unit) + mark:>14s}")
        goal_text = "" if goal is None else ("≤ " if unit == "s" else "< " if unit else "") + shown(goal, unit)
        print(f"{label:40s}" + "".join(cells) + f"   {goal_text}")
    print("(! = misses the goal)")
