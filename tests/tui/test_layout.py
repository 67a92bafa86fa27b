"""The dashboard uses its space: no blank row at 120x40, and at 80x24 the verdict and every panel's
worst row stay in view, the rest behind a "+N more" line that enter opens.

Fake probes and a fixed clock (no network, no time); the screen is read from Textual's compositor."""

from __future__ import annotations

from launchdeck.core.config import parse_config
from launchdeck.core.model import FixedClock, Outcome, Status
from launchdeck.tui.app import make_app
from launchdeck.tui.screens.dashboard import share
from launchdeck.tui.widgets.rows import MoreRow
from tests.fakes import FakeProbe
from tests.tui.helpers import mixed_probes, wait_until

SERVICES = [f"svc{i:02d}" for i in range(10)]  # svc07 is the only crit one: the worst, far down the list
TRAFFIC = ["api", "checkout", "payments", "search", "web"]


def traffic_outcome(status: Status, reason: str, ratio: float | None) -> list[Outcome]:
    return [Outcome(status, reason, {"error_ratio": ratio, "p95_seconds": 0.12, "rate_rps": 40.0})]


def busy_deck(tmp_path):
    """Every panel configured: 10 services, 5 traffic rows, 3 containers, 2 backups, checklists."""
    (tmp_path / "launch.md").write_text("# Launch\n## Pre-launch\n- [ ] Security review done\n"
                                        "- [ ] Load test passed\n## Launch day\n- [ ] Deploy\n")
    text = ['[deck]\nname = "shop"\nenvironment = "production"\n']
    text += [f'[[services]]\nname = "{name}"\nurl = "http://127.0.0.1:9/{name}"\n' for name in SERVICES]
    text += [f'[[traffic]]\nname = "{name}"\nsource = "scrape"\nscrape_url = "http://127.0.0.1:9/metrics"\n'
             for name in TRAFFIC]
    text += ['[[containers]]\nhost = "local"\n']
    text += ['[[backups]]\nname = "main_db"\npath = "/b"\n', '[[backups]]\nname = "ai_db"\npath = "/b"\n']
    text += ['[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n']
    config = parse_config("".join(text), str(tmp_path / "launchdeck.toml"), {})
    probes = [FakeProbe(name, [Outcome(Status.CRIT, "connection refused")] if name == "svc07" else
                        [Outcome(Status.OK, "HTTP 200", {"latency_seconds": 0.01, "http_status": 200})])
              for name in SERVICES]
    probes += [FakeProbe(name, traffic_outcome(Status.WARN, "error ratio > 1% for 3m", 0.021) if name == "payments"
                         else traffic_outcome(Status.OK, "fine", 0.001), panel="traffic") for name in TRAFFIC]
    probes += [FakeProbe(f"local/{name}", [Outcome(status, reason, {"name": name, "host": "local", "cpu_percent": 1.0,
                                                                    "mem_bytes": 1 << 20})], panel="containers")
               for name, status, reason in (("db", Status.OK, "running"), ("web", Status.OK, "running"),
                                            ("worker", Status.CRIT, "restarting: exit 1"))]
    probes += [FakeProbe("main_db", [Outcome(Status.OK, "fresh", {"age_seconds": 3600})], panel="backups"),
               FakeProbe("ai_db", [Outcome(Status.CRIT, "older than max_age 26h", {"age_seconds": 144059})],
                         panel="backups")]
    return make_app(config, probes=probes, clock=FixedClock())


def screen_lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def settled(pilot, count: int) -> None:
    await wait_until(pilot, lambda: len(pilot.app.latest) >= count)
    await pilot.pause()
    await pilot.pause(0.1)


def test_share_gives_each_panel_its_worst_row_then_a_line_each_round():
    # (least, wanted, chrome): a panel of 10 rows, one of 5, one of 2 (1 row needs no "+N more")
    lines, spare = share(20, [(2, 10, 2), (2, 5, 2), (1, 2, 2)])
    assert lines == [7, 5, 2] and spare == 0, "after the least, a line each round until one is full"
    assert share(100, [(2, 10, 2), (2, 5, 2)]) == ([10, 5], 81), "what nobody wants is left over"
    assert share(5, [(2, 10, 2), (2, 5, 2)])[0] == [2, 2], "never below the worst rows (the screen scrolls)"


async def test_120x40_every_panel_in_full_and_no_blank_row(tmp_path):
    app = busy_deck(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, 20)
        lines = screen_lines(app)
        blank = [y for y, line in enumerate(lines) if not line.strip()]
        assert not blank, f"blank rows at {blank}:\n" + "\n".join(lines)
        text = "\n".join(lines)
        assert all(name in text for name in SERVICES + TRAFFIC + ["main_db", "ai_db", "worker"])
        assert "more · enter" not in text, "at 120x40 every row of this deck fits"


async def test_80x24_the_verdict_and_every_panels_worst_row_stay_in_view(tmp_path):
    app = busy_deck(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, 20)
        text = "\n".join(screen_lines(app))
        assert "NO-GO" in text.splitlines()[1]
        for worst in ("svc07", "payments", "worker", "ai_db", "Checklists"):
            assert worst in text, f"{worst} not in view at 80x24:\n{text}"
        assert "more · enter shows all" in text
        services = app.dashboard.query_one("#services")
        assert services.lines.budget is not None and services.lines.shown[-1] is services.lines.more
        shown = [r.target for r in services.lines.shown[:-1]]
        assert "svc07" in shown and len(shown) < len(SERVICES), "the crit row is among the few shown"


async def test_enter_on_more_shows_every_row_and_again_shows_fewer(tmp_path):
    app = busy_deck(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, 20)
        services = app.dashboard.query_one("#services")
        services.focus()
        while not isinstance(services.lines.cursor_row(), MoreRow):
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: [r.target for r in services.lines.shown[:-1]] == SERVICES)
        assert "fewer" in services.lines.more.plain()
        await pilot.press("enter")  # the cursor stayed on the (now "fewer") line
        await wait_until(pilot, lambda: len(services.lines.shown) < len(SERVICES))
        assert "svc07" in [r.target for r in services.lines.shown]


async def test_growing_the_terminal_shows_the_rows_a_small_one_left_out(tmp_path):
    app = busy_deck(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, 20)
        assert "svc05" not in "\n".join(screen_lines(app))
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.2)
        text = "\n".join(screen_lines(app))
        assert "svc05" in text and "more · enter" not in text


async def test_a_sparse_deck_fills_the_screen_with_its_panels_not_blank_rows():
    """The snapshot deck (services only): its panel grows to the footer, unconfigured ones one line each."""
    from tests.tui.helpers import app_with

    app = app_with(mixed_probes())
    async with app.run_test(size=(120, 40)) as pilot:
        await settled(pilot, 5)
        lines = screen_lines(app)
        assert not [y for y, line in enumerate(lines) if not line.strip()], "\n".join(lines)
        assert sum("not configured" in line for line in lines) == 4


async def test_a_wall_sized_terminal_puts_the_panels_in_two_columns_without_blank_rows(tmp_path):
    app = busy_deck(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await settled(pilot, 20)
        dashboard = app.dashboard
        assert dashboard.columns == 2
        services, traffic, containers = (dashboard.query_one(f"#{n}") for n in ("services", "traffic", "containers"))
        assert services.region.x == traffic.region.x < containers.region.x, "services+traffic left, the rest right"
        assert services.region.y == containers.region.y
        assert services.lines.layout_name == "normal", "each column keeps its sparklines"
        lines = screen_lines(app)
        assert not [y for y, line in enumerate(lines) if not line.strip()], "\n".join(lines)
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.2)
        assert dashboard.columns == 1 and services.region.x == containers.region.x
