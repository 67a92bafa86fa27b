"""Pixel-exact screens at the two sizes our users have: an SSH session and the war-room wall.

Fake probes and a fixed clock: no network, no time. Textual is pinned (pyproject) so these stay valid.
"""

from tests.tui.helpers import app_with, mixed_probes, wait_until


def wait_for_readings(count: int):
    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: len(pilot.app.latest) == count)
        await pilot.pause()

    return run_before


def test_dashboard_80x24(snap_compare):
    assert snap_compare(app_with(mixed_probes()), terminal_size=(80, 24), run_before=wait_for_readings(5))


def test_dashboard_120x40(snap_compare):
    assert snap_compare(app_with(mixed_probes()), terminal_size=(120, 40), run_before=wait_for_readings(5))


def test_help_80x24(snap_compare):
    async def open_help(pilot) -> None:
        await wait_for_readings(5)(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app_with(mixed_probes(), environment="staging"), terminal_size=(80, 24),
                        run_before=open_help)
