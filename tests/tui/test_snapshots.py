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


def test_checklist_screen_80x24(snap_compare, tmp_path):
    from datetime import datetime, timezone

    from launchdeck.tui.app import make_app
    from launchdeck.audit.ledger import Ledger, Operator
    from launchdeck.core.config import parse_config
    from launchdeck.core.model import FixedClock, Outcome, Status
    from tests.fakes import FakeProbe

    (tmp_path / "launch.md").write_text(
        "# Launch\n## Pre-launch\n- [ ] All services healthy <!-- verify: services.all_ok -->\n"
        "- [ ] Security review done\n- [ ] Backups fresh <!-- verify: backups.age < 26h -->\n"
        "## Launch day\n- [ ] Deploy to production\n## Post-launch\n- [ ] Monitor for 24 hours\n")
    config = parse_config('[deck]\nname = "shop"\n[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n'
                          '[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n',
                          str(tmp_path / "launchdeck.toml"), {})
    ledger = Ledger(tmp_path / "signoff.jsonl", clock=lambda: datetime(2026, 1, 1, 9, 30, tzinfo=timezone.utc),
                    operator=Operator("ana", 1000, "vps1", None))
    from launchdeck.checklists.parser import load_checklist

    review = next(i for i in load_checklist(tmp_path / "launch.md").items if i.text == "Security review done")
    ledger.append(checklist="launch.md", item_id=review.id, item_text=review.text, kind="sign", reason="pen test ok")
    app = make_app(config, probes=[FakeProbe("web", [Outcome(Status.CRIT, "refused")])], clock=FixedClock())

    async def open_checklists(pilot) -> None:
        await wait_until(pilot, lambda: pilot.app.latest)
        await pilot.press("c")
        await wait_until(pilot, lambda: "1/3" in str(pilot.app.screen.query_one("#phases").get_tab(
            "tab-pre-launch").label) if pilot.app.screen.id == "checklists-screen" else False)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_checklists)


def test_traffic_panel_every_state_80x24(snap_compare):
    from tests.tui.helpers import app_with_traffic

    assert snap_compare(app_with_traffic(), terminal_size=(80, 24), run_before=wait_for_readings(8))


def test_traffic_panel_every_state_120x40(snap_compare):
    from tests.tui.helpers import app_with_traffic

    assert snap_compare(app_with_traffic(), terminal_size=(120, 40), run_before=wait_for_readings(8))


def test_containers_panel_80x24(snap_compare):
    from launchdeck.tui.app import make_app
    from launchdeck.core.model import FixedClock, Status
    from tests.fakes import FakeHost, container
    from tests.tui.helpers import config_for

    host = FakeHost("local", interval=3600, batches=[[
        container("web", cpu_percent=4.2, project="shop", service="web"),
        container("db", Status.CRIT, "unhealthy: pg_isready: no response", cpu_percent=0.5, health="unhealthy",
                  project="shop", service="db"),
        container("worker", Status.WARN, "restarted 2x since launch start", restarts=2, cpu_percent=12.0),
        container("batch", Status.WARN, "cpu 78.0% ≥ 70%", cpu_percent=78.0, mem_bytes=900 * 2**20,
                  mem_limit_bytes=1024 * 2**20, mem_percent=87.9),
    ]])
    app = make_app(config_for([], extra='[[containers]]\nhost = "local"\n'), probes=[host], clock=FixedClock())
    assert snap_compare(app, terminal_size=(80, 24), run_before=wait_for_readings(4))


def test_containers_panel_120x40_shows_health_network_and_pids(snap_compare):
    from launchdeck.tui.app import make_app
    from launchdeck.core.model import FixedClock, Status
    from tests.fakes import FakeHost, container
    from tests.tui.helpers import config_for

    host = FakeHost("local", interval=3600, batches=[[
        container("web", cpu_percent=4.2, project="shop", service="web", health="healthy"),
        container("db", Status.CRIT, "unhealthy: pg_isready: no response", health="unhealthy", project="shop",
                  service="db"),
    ]])
    app = make_app(config_for([], extra='[[containers]]\nhost = "local"\n'), probes=[host], clock=FixedClock())
    assert snap_compare(app, terminal_size=(120, 40), run_before=wait_for_readings(2))


def _backups_app():
    from tests.tui.test_backups_panel import backup_probes, backups_app

    return backups_app(backup_probes())


def test_backups_panel_80x24(snap_compare):
    assert snap_compare(_backups_app(), terminal_size=(80, 24), run_before=wait_for_readings(4))


def test_backups_panel_120x40(snap_compare):
    assert snap_compare(_backups_app(), terminal_size=(120, 40), run_before=wait_for_readings(4))


def test_backups_list_screen_80x24(snap_compare):
    async def open_list(pilot) -> None:
        await wait_for_readings(4)(pilot)
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(_backups_app(), terminal_size=(80, 24), run_before=open_list)


def _busy(tmp_path):
    from tests.tui.test_layout import busy_deck

    return busy_deck(tmp_path)


def test_dashboard_every_panel_120x40(snap_compare, tmp_path):
    """Every panel configured: the height shared out, no blank row (tests/tui/test_layout.py checks)."""
    assert snap_compare(_busy(tmp_path), terminal_size=(120, 40), run_before=wait_for_readings(20))


def test_dashboard_every_panel_80x24(snap_compare, tmp_path):
    """The verdict and each panel's worst row in view; the rest behind "+N more"."""
    assert snap_compare(_busy(tmp_path), terminal_size=(80, 24), run_before=wait_for_readings(20))


def test_detail_80x24(snap_compare, tmp_path):
    async def open_detail(pilot) -> None:
        await wait_for_readings(20)(pilot)
        pilot.app.dashboard.query_one("#backups").focus()
        await pilot.press("down", "enter")  # main_db, then ai_db
        await pilot.pause()

    assert snap_compare(_busy(tmp_path), terminal_size=(80, 24), run_before=open_detail)
