"""`launchdeck report`: the launch timeline per phase and item, as Markdown or JSON.

People's text (items, notes, reasons, names) is data: in Markdown it is escaped and kept on one
line (a note with a line break once forged a "- [x] Security review — signed by ciso" line), with
control characters shown as stand-ins (core/plain.py). JSON carries it exactly. When the ledger
fails its check, the report says so first, counts only the records before the first bad line, and
lists the rest apart as unverified. An item signed as another text shows the text that was signed;
identical twins (which cannot be signed) and records that could be for several items are listed.
Deploys, rollbacks and restores (the ledger's action records) follow, one run each: who, when, the
parameters, every step's exit status and duration, the outcome, the log file and its SHA-256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launchdeck.audit.chain import Checked, Unverified
from launchdeck.checklists.state import Board, ItemState, operator_label
from launchdeck.core.jsontext import dumps
from launchdeck.core.plain import visible

MARK = {"open": "[ ]", "signed": "[x]", "waived": "[~]"}
_MARKDOWN = {ord(c): "\\" + c for c in "\\`*_[]<>|~&"}  # inline syntax; every line starts with our own text


def md(text: object) -> str:
    """People's text for a Markdown line: one line, controls visible, no syntax of its own."""
    return visible(text).translate(_MARKDOWN)


def _item_json(state: ItemState) -> dict[str, Any]:
    return {"checklist": state.checklist, "id": state.item.id, "text": state.item.text,
            "section": list(state.item.section), "status": state.status, "by": state.by, "at": state.at,
            "note": state.note, "evidence": state.evidence, "changed_since_signed": state.changed_since_signed,
            "signed_text": state.signed_text, "signed_id": state.signed_id,
            "changes": state.changes() if state.changed_since_signed else None,
            "ambiguous": state.item.ambiguous, "claims": list(state.claims), "notes": list(state.notes)}


def _record_json(record, candidates: tuple = ()) -> dict[str, Any]:
    found = {"checklist": record.checklist, "item_id": record.item_id, "item_text": record.item_text,
             "kind": record.kind, "by": operator_label(record), "at": record.time}
    return found | ({"candidates": [list(key) for key in candidates]} if candidates else {})


def _ledger_json(path: Path | None, checked: Checked) -> dict[str, Any]:
    result = checked.result
    return {"path": None if path is None else str(path), "ok": result.ok, "records": result.records,
            "head": result.head, "first_bad_line": result.first_bad_line, "problem": result.problem,
            "detail": result.detail}


def report_json(board: Board, title: str, checked: Checked | None = None, ledger: Path | None = None,
                timeline: list[dict[str, Any]] | None = None, recording: dict[str, Any] | None = None) -> str:
    phases = []
    for phase in board.phases():
        done, total = board.progress(phase)
        phases.append({"phase": phase, "done": done, "total": total,
                       "items": [_item_json(s) for s in board.phase(phase)]})
    orphans = [_record_json(r) for r in board.orphans]
    ambiguous = [_record_json(r, keys) for r, keys in board.ambiguous]
    document: dict[str, Any] = {"title": title, "phases": phases, "orphans": orphans, "ambiguous": ambiguous}
    if checked is not None:
        document["actions"] = action_runs(checked.records)
        document["ledger"] = _ledger_json(ledger, checked)
        document["unverified"] = [{"line": u.line, "record": u.record.to_json() if u.record else None, "why": u.why}
                                  for u in checked.unverified]
    if timeline is not None:  # engine/timeline_report.py: the recording's events and the ledger's, by time
        document["timeline"] = timeline
        document["recording"] = recording
    return dumps(document)


def integrity_words(checked: Checked, ledger: Path | None = None) -> tuple[bool, str]:
    """(intact?, one line): the record count and head, or the first bad line and what follows from it."""
    result, name = checked.result, visible(ledger if ledger is not None else "ledger")
    if result.ok:
        return True, f"{name}: {result.records} records, chain intact, head {result.head}"
    last = checked.unverified[-1].line if checked.unverified else result.first_bad_line
    return False, (f"{name}: INTEGRITY PROBLEM at line {result.first_bad_line}: {visible(result.problem)}: "
                   f"{visible(result.detail)}. Only the {result.records} records before it count (head "
                   f"{result.head}); lines {result.first_bad_line}-{last} are UNVERIFIED")


def _unverified_line(entry: Unverified) -> str:
    r = entry.record
    if r is None:
        return f"- line {entry.line}: not a record ({md(entry.why)})"
    return (f"- line {entry.line}: {md(r.kind)} {md(r.checklist)}:{md(r.item_id)} “{md(r.item_text)}” by "
            f"{md(operator_label(r))} at {md(r.time)}" + (f" ({md(r.reason)})" if r.reason else "") + " — UNVERIFIED")


def action_runs(records) -> list[dict[str, Any]]:
    """The ledger's action records (kind "action", checklist "actions") gathered per run, oldest first:
    who started it and when, its parameters, each step, how it ended. Values exactly as recorded; a run
    with no finish record (still running, or its process killed) has outcome None."""
    runs: dict[str, dict[str, Any]] = {}
    for record in records:
        evidence = record.evidence if isinstance(record.evidence, dict) else {}
        if record.kind != "action" or record.checklist != "actions" or not isinstance(evidence.get("run"), str):
            continue
        run = runs.setdefault(evidence["run"], {
            "run": evidence["run"], "action": record.item_id, "by": operator_label(record), "at": record.time,
            "reason": None, "params": {}, "gate": None, "warnings": [], "steps": [], "outcome": None,
            "exit_code": None, "message": None, "finished_at": None, "duration_seconds": None, "watch": None,
            "log": None, "log_sha256": None, "log_bytes": None, "lock_broken": []})
        event = evidence.get("event")
        if event == "start":
            run.update(by=operator_label(record), at=record.time, reason=record.reason,
                       params=evidence.get("params") or {}, gate=evidence.get("gate"),
                       warnings=evidence.get("warnings") or [], log=evidence.get("log"))
        elif event in ("step", "skipped"):
            step = evidence.get("step") if isinstance(evidence.get("step"), dict) else {}
            run["steps"].append({"name": step.get("name"), "argv": step.get("argv"), "host": step.get("host"),
                                 "outcome": evidence.get("outcome", "skipped" if event == "skipped" else None),
                                 "exit_status": evidence.get("exit_status"), "signal": evidence.get("signal"),
                                 "duration_seconds": evidence.get("duration_seconds"),
                                 "message": evidence.get("message")})
        elif event == "finish":
            run.update({key: evidence.get(key) for key in ("outcome", "exit_code", "message", "duration_seconds",
                                                            "watch", "log", "log_sha256", "log_bytes")})
            run["finished_at"] = record.time
        elif event == "lock-broken":
            run["lock_broken"].append({"by": operator_label(record), "at": record.time, "reason": record.reason,
                                       "what": record.item_text})
    return list(runs.values())


def _seconds(value: object) -> str:
    return f"{value:g}s" if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def _run_lines(run: dict[str, Any]) -> list[str]:
    """One run as Markdown: a headline, then its parameters, reason, gate, warnings, steps and log."""
    params = " ".join(f"{k}={v}" for k, v in run["params"].items()) if isinstance(run["params"], dict) else ""
    outcome = (f"{md(run['outcome'])} (exit {md(run['exit_code'])}) after {_seconds(run['duration_seconds'])}: "
               f"{md(run['message'])}" if run["outcome"] is not None
               else "**no finish record** (still running, or its process was killed)")
    headline = f"- **{md(run['action'])}**{' ' + md(params) if params else ''} by {md(run['by'])} at {md(run['at'])}"
    lines = [f"{headline}: {outcome}", f"  - run {md(run['run'])}"]
    if run["reason"]:
        lines.append(f"  - reason: {md(run['reason'])}")
    gate = run["gate"] if isinstance(run["gate"], dict) else None
    if gate and gate.get("overridden"):
        opened = gate.get("open") or []
        lines.append(f"  - **phase gate overridden**: {len(opened)} pre-launch item(s) open "
                     f"(reason: {md(gate.get('override_reason'))})")
        lines += [f"    - open: {md(i.get('checklist'))}: {md(i.get('text'))}" for i in opened if isinstance(i, dict)]
    for warning in run["warnings"] if isinstance(run["warnings"], list) else ():
        lines.append(f"  - warning at start: {md(warning)}")
    for broken in run["lock_broken"]:
        lines.append(f"  - lock broken by {md(broken['by'])} at {md(broken['at'])}: {md(broken['what'])} "
                     f"(reason: {md(broken['reason'])})")
    for number, step in enumerate(run["steps"], 1):
        exit_words = f", exit {md(step['exit_status'])}" if step["exit_status"] is not None else ""
        signal = f", signal {md(step['signal'])}" if step["signal"] else ""
        took = f", {_seconds(step['duration_seconds'])}" if step["duration_seconds"] is not None else ""
        lines.append(f"  - step {number} {md(step['name'])} on {md(step['host'] or 'local')}: "
                     f"{md(step['outcome'])}{exit_words}{signal}{took}")
    if run["log"]:
        digest = f" (sha256 {md(run['log_sha256'])})" if run["log_sha256"] else ""
        lines.append(f"  - log: {md(run['log'])}{digest}")
    return lines


def _twins(board: Board) -> list[str]:
    """Items nothing tells apart (signing them is refused) and records placed on none of their candidates."""
    twins = [s for s in board.states.values() if s.item.ambiguous]
    lines = []
    if twins:
        lines += ["## Identical items that cannot be signed", "",
                  "Give each its own `<!-- id: name -->` in the checklist, then sign.", ""]
        lines += [f"- {md(s.checklist)}:{s.item.line} “{md(s.item.text)}” ({md(s.item.id)})" for s in twins]
        lines.append("")
    if board.ambiguous:
        lines += ["## Records that could be for several items (counted on none)", ""]
        lines += [f"- {md(r.kind)} {md(r.checklist)}:{md(r.item_id)} “{md(r.item_text)}” by {md(operator_label(r))} "
                  f"at {md(r.time)}: could be {', '.join(md(f'{c}:{i}') for c, i in keys)}"
                  for r, keys in board.ambiguous]
        lines.append("")
    return lines


def timeline_lines(timeline: list[dict[str, Any]], recording: dict[str, Any] | None = None) -> list[str]:
    """The "Timeline" section: one line per event, people's text escaped like every other line."""
    lines = [f"## Timeline ({len(timeline)} events)", ""]
    if recording and recording.get("problem"):
        lines += [f"Recording: {md(recording.get('path') or '-')}: {md(recording['problem'])} "
                  "(the ledger's records only)", ""]
    elif recording and recording.get("lines_skipped"):
        lines += [f"Recording: {md(recording.get('path'))}: {recording['lines_skipped']} unreadable line(s) "
                  "skipped", ""]
    for entry in timeline:
        when = str(entry.get("time", ""))[:19].replace("T", " ")
        lines.append(f"- {md(when)} **{md(entry.get('severity'))}** {md(entry.get('panel'))}/"
                     f"{md(entry.get('target'))} {md(entry.get('kind'))}: {md(entry.get('text'))}")
    return lines + [""]


def report_markdown(board: Board, title: str, checked: Checked | None = None, ledger: Path | None = None,
                    timeline: list[dict[str, Any]] | None = None, recording: dict[str, Any] | None = None) -> str:
    lines = [f"# Launch report: {md(title)}", ""]
    if checked is not None:
        ok, words = integrity_words(checked, ledger)
        lines += [f"Ledger: {md(words)}" if ok else f"> **{md(words)}**", ""]
    for phase in board.phases():
        done, total = board.progress(phase)
        lines += [f"## {md(phase)} ({done}/{total})", ""]
        for state in board.phase(phase):
            indent = "  " * state.item.level
            line = f"{indent}- {MARK[state.status]} {md(state.item.text)}"
            if state.status != "open":
                line += f" — {state.status} by {md(state.by)} at {md(state.at)}"
            if state.note:
                line += f" ({'reason' if state.status == 'waived' else 'note'}: {md(state.note)})"
            if state.evidence:
                line += f" [evidence {md(state.evidence.get('expr'))}: {md(state.evidence.get('state'))}]"
            if state.changed_since_signed:
                line += f" **changed since signed** ({md(state.changes())})"
            if state.claims:
                line += f" **claimed by {len(state.claims)} sign-off(s) that could be for an identical item**"
            elif state.item.ambiguous:
                line += " **identical twin: cannot be signed until given its own id**"
            lines.append(line)
        lines.append("")
    lines += _twins(board)
    if board.orphans:
        lines += ["## Records for items no longer in the checklists", ""]
        lines += [f"- {md(r.kind)} {md(r.checklist)}:{md(r.item_id)} “{md(r.item_text)}” by {md(operator_label(r))} "
                  f"at {md(r.time)}" for r in board.orphans]
        lines.append("")
    runs = action_runs(checked.records) if checked is not None else []
    if runs:
        lines += [f"## Actions ({len(runs)} run(s))", ""]
        for run in runs:
            lines += _run_lines(run)
        lines.append("")
    if checked is not None and checked.unverified:
        first = checked.unverified[0].line
        lines += [f"## Unverified ledger lines (from line {first}: not counted above)", ""]
        lines += [_unverified_line(entry) for entry in checked.unverified]
        lines.append("")
    if timeline is not None:
        lines += timeline_lines(timeline, recording)
    return "\n".join(lines)
