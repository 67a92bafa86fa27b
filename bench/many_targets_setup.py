"""The deck every part of the many_targets bench measures, in one place so the server, the dashboard
driver, the report and the runner cannot disagree: 200 targets with every 10th hanging, their timeout
and refresh, the two terminal sizes, the key goal. A leaf: it imports nothing of the bench."""

from __future__ import annotations

TARGETS = 200
HANG_EVERY = 10  # s000, s010, ... s190 hang: 20 of 200, spread through the panel
TIMEOUT = 2.0
REFRESH = 5.0
SIZE = (200, 230)  # columns, rows: 200 service rows + header, verdict, borders, placeholders, footer
NORMAL = (120, 40)  # a usual terminal: only the visible rows are drawn; the key latency is judged here
KEY_GOAL_MS = 100.0
DECK_NAME = "many-targets"  # in the header of every frame: the first paint is the first chunk carrying it


def name(index: int) -> str:
    return f"s{index:03d}"


def hangs(index: int) -> bool:
    return index % HANG_EVERY == 0
