"""`launchdeck report`: the launch timeline per phase and item, as Markdown or JSON."""

from __future__ import annotations

import json
from typing import Any

from launchdeck.checklists.state import Board, ItemState, operator_label

MARK = {"open": "[ ]", "signed": "[x]", "waived": "[~]"}


def _item_json(state: ItemState) -> dict[str, Any]:
    return {"checklist": state.checklist, "id": state.item.id, "text": state.item.text,
            "section": list(state.item.section), "status": state.status, "by": state.by, "at": state.at,
            "note": state.note, "evidence": state.evidence, "changed_since_signed": state.changed_since_signed,
            "notes": list(state.notes)}


def report_json(board: Board, title: str) -> str:
    phases = []
    for phase in board.phases():
        done, total = board.progress(phase)
        phases.append({"phase": phase, "done": done, "total": total,
                       "items": [_item_json(s) for s in board.phase(phase)]})
    orphans = [{"checklist": r.checklist, "item_id": r.item_id, "item_text": r.item_text, "kind": r.kind,
                "by": operator_label(r), "at": r.time} for r in board.orphans]
    return json.dumps({"title": title, "phases": phases, "orphans": orphans}, indent=2, ensure_ascii=False)


def report_markdown(board: Board, title: str) -> str:
    lines = [f"# Launch report: {title}", ""]
    for phase in board.phases():
        done, total = board.progress(phase)
        lines += [f"## {phase} ({done}/{total})", ""]
        for state in board.phase(phase):
            indent = "  " * state.item.level
            line = f"{indent}- {MARK[state.status]} {state.item.text}"
            if state.status != "open":
                line += f" — {state.status} by {state.by} at {state.at}"
            if state.note:
                line += f" ({'reason' if state.status == 'waived' else 'note'}: {state.note})"
            if state.evidence:
                line += f" [evidence {state.evidence.get('expr')}: {state.evidence.get('state')}]"
            if state.changed_since_signed:
                line += " **changed since signed**"
            lines.append(line)
        lines.append("")
    if board.orphans:
        lines += ["## Records for items no longer in the checklists", ""]
        lines += [f"- {r.kind} {r.checklist}:{r.item_id} “{r.item_text}” by {operator_label(r)} at {r.time}"
                  for r in board.orphans]
        lines.append("")
    return "\n".join(lines)
