"""The deploy confirmation, pixel-exact at an SSH session's 80x24 and a war-room wall's 120x40.

Everything on it is fixed: fake probes and a FixedClock (no network, no clock), a command that is
never run (`/opt/shop/deploy.sh`), a pre-launch checklist with open items (the phase gate's warning
and its override field), a late backup and a traffic rule the 5-minute watch window cannot see
sustained. The version and the typed confirmation word are typed, the plan is built, and the word
field has the focus (its cursor does not blink), so the frame is the one the operator sees before enter.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.tui.app import make_app
from launchdeck.tui.screens.action_confirm import ActionConfirm
from tests.fakes import FakeProbe
from tests.tui.helpers import wait_until

CONFIG = '''[deck]
name = "shop"
environment = "production"

[[services]]
name = "web"
url = "http://127.0.0.1:9/health"

[[traffic]]
name = "checkout"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"

[checklists]
files = ["pre.md"]

[actions]
enabled = true

[actions.deploy]
argv = ["/opt/shop/deploy.sh", "{version}"]
params = { version = '^v?[0-9]+(\\.[0-9]+)*$' }
confirm = "typed"
watch = "5m"
'''


def confirm_app(folder: Path):
    (folder / "pre.md").write_text("# Pre-launch checklist\n\n- [ ] Backups verified\n- [ ] DNS switched\n")
    probes = [FakeProbe("web"),
              FakeProbe("checkout", [Outcome(Status.WARN, "error ratio > 1% for 2m",
                                             {"error_ratio": 0.021, "p95_seconds": 0.26, "rate_rps": 12.5})],
                        panel="traffic"),
              FakeProbe("main_db", [Outcome(Status.CRIT, "newest dump 31h old (max 26h)")], panel="backups")]
    config = parse_config(CONFIG, str(folder / "launchdeck.toml"), {})
    return make_app(config, probes=probes, clock=FixedClock())


async def typed_confirmation(pilot) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: len(app.latest) == 3)
    await pilot.press("D")
    await wait_until(pilot, lambda: isinstance(app.screen, ActionConfirm))
    screen = app.screen
    for selector, text in (("#param-version", "v2.1"), ("#word", "production")):
        field = screen.query_one(selector, Input)
        field.cursor_blink = False
        field.focus()
        await pilot.pause()
        await pilot.press(*text)
        if selector == "#param-version":
            await wait_until(pilot, lambda: screen.plan is not None)
    # the start-up toast (the same watch-window warning the screen shows) times out by the clock: not in the frame
    app.clear_notifications()
    await pilot.pause(0.2)


def test_deploy_confirmation_80x24(snap_compare, tmp_path):
    assert snap_compare(confirm_app(tmp_path), terminal_size=(80, 24), run_before=typed_confirmation)


def test_deploy_confirmation_120x40(snap_compare, tmp_path):
    assert snap_compare(confirm_app(tmp_path), terminal_size=(120, 40), run_before=typed_confirmation)
