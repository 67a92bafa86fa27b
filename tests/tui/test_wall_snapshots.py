"""The wall, pixel-exact, at the three sizes it is read at: an 80x24 SSH session, a 120x40 laptop
terminal, a 200x60 terminal on the war room's TV. Six minutes of launch history (a breach lasting
minutes, a flapping service, trends) from a fed LiveState and a FixedClock: no network, no clock."""

from __future__ import annotations

import pytest

from tests.tui.test_wall import WallOnly, launch_history, source_of


async def _settle(pilot) -> None:
    await pilot.pause()
    pilot.app.screen.tick()  # the reasons' page size follows the laid-out height
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_wall_with_six_minutes_of_history(snap_compare, size):
    state, clock, config = launch_history()
    assert snap_compare(WallOnly(source_of(state, clock, config)), terminal_size=size, run_before=_settle)


def test_wall_stale_120x40(snap_compare):
    state, clock, config = launch_history()
    clock.advance(90)  # readings stopped a minute and a half ago

    assert snap_compare(WallOnly(source_of(state, clock, config)), terminal_size=(120, 40), run_before=_settle)
