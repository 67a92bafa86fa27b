"""The whole `launchdeck demo --allow-actions` story in the dashboard, driven by keys at 80x24.

Real everything: the demo's loopback services polled by the app's own engine, the demo's deploy
program run by the action flow, the watch window on real probes. Deploy v2 → the watch window sees
checkout's error ratio breach → R offers the rollback to v1 → confirmed → checkout's row is healthy
again; the ledger holds each step and its chain verifies. (It found that a second run screen in one
session reused the first one's id: run screens now have none.)
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from launchdeck.audit.ledger import Ledger
from launchdeck.core.config import load_config
from launchdeck.core.model import Status
from launchdeck.demo.actions import (
    CONFIRM_RESTORE,
    DATABASE,
    action_services,
    deploy_first,
)
from launchdeck.demo.restore import orders
from launchdeck.demo.stack import DemoStack
from launchdeck.tui.app import make_app
from launchdeck.tui.screens.action_confirm import ActionConfirm
from launchdeck.tui.screens.action_run import ActionRunScreen
from tests.tui.helpers import wait_until

pytestmark = pytest.mark.integration


async def confirm_with(pilot, screen: ActionConfirm, word: str) -> None:
    screen.query_one("#word").focus()
    await pilot.pause()
    await pilot.press(*word, "enter")


def checkout(app):
    return app.latest.get(("traffic", "checkout"))


async def test_deploy_v2_breaches_and_the_offered_rollback_makes_checkout_healthy_again(tmp_path):
    with DemoStack(action_services(), seed=7) as stack:
        config_path = stack.write_config(tmp_path, allow_actions=True)
        assert (await asyncio.to_thread(deploy_first, config_path)).outcome == "done"  # asyncio.run inside
        app = make_app(load_config(config_path), allow_actions=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: checkout(app) is not None and checkout(app).status is not Status.UNKNOWN,
                             timeout=15)
            await pilot.press("D")
            await wait_until(pilot, lambda: isinstance(app.screen, ActionConfirm))
            deploy = app.screen
            deploy.query_one("#param-version").focus()
            await pilot.pause()
            await pilot.press("v", "2")
            await wait_until(pilot, lambda: deploy.plan is not None)
            await confirm_with(pilot, deploy, "production")
            await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
            run = app.screen
            await wait_until(pilot, lambda: run.result is not None, timeout=30)
            assert run.result.outcome == "breached", run.result.message
            assert "traffic checkout: error ratio" in run.result.message
            assert stack.services["checkout"].version == "v2"
            assert "R rolls back" in str(run.query_one("#status", Static).render())

            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, ActionConfirm))
            rollback = app.screen
            assert "rolling back from v2 to v1" in str(rollback.query_one("#steps", Static).render())
            assert app.focused is not None and app.focused.id == "cancel"
            await confirm_with(pilot, rollback, "production")
            await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen) and app.screen is not run)
            rolled = app.screen
            await wait_until(pilot, lambda: rolled.result is not None, timeout=20)
            assert rolled.result.outcome == "done", rolled.result.message
            assert stack.services["checkout"].version == "v1"
            # the dashboard's own engine: checkout's 15 s window drains v2's errors, the row recovers
            await wait_until(pilot, lambda: checkout(app).status is not Status.CRIT
                             and checkout(app).values.get("error_ratio", 1) < 0.05, timeout=30)
    ledger = tmp_path / "launch-signoff.jsonl"
    finishes = [(r.evidence["action"], r.evidence["params"]["version"], r.evidence["outcome"])
                for r in Ledger(ledger).records() if r.kind == "action" and r.evidence["event"] == "finish"]
    assert finishes == [("deploy", "v1", "done"), ("deploy", "v2", "breached"), ("rollback", "v1", "done")]
    verify = [str(Path(sys.executable).with_name("launchdeck")), "signoff", "verify", str(ledger)]
    verified = await asyncio.to_thread(subprocess.run, verify, capture_output=True, text=True, timeout=30, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_restore_from_the_dashboard_puts_the_shop_database_back(tmp_path):
    with DemoStack(action_services(), seed=8) as stack:
        config_path = stack.write_config(tmp_path, allow_actions=True)
        database = tmp_path / DATABASE
        full = orders(database)
        db = sqlite3.connect(database)
        with db:
            db.execute("DELETE FROM orders WHERE id > 10")
        db.close()
        app = make_app(load_config(config_path), allow_actions=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("S")
            await wait_until(pilot, lambda: isinstance(app.screen, ActionConfirm))
            restore = app.screen
            assert app.focused is not None and app.focused.id == "cancel"
            assert not restore.query("#param-dump") and not restore.query("#param-backup"), "the dump is not typed"
            choices = restore.query_one(OptionList)
            listed = [choices.get_option_at_index(i).id for i in range(choices.option_count)]
            assert listed == sorted(listed, reverse=True) and listed[0].startswith("main_db_"), listed
            await wait_until(pilot, lambda: restore.plan is not None)
            assert restore.plan.params == {"backup": listed[0]}  # the newest, highlighted first
            assert str(tmp_path / "backups" / listed[0]) in str(restore.query_one("#steps", Static).render())
            await confirm_with(pilot, restore, CONFIRM_RESTORE)
            await wait_until(pilot, lambda: isinstance(app.screen, ActionRunScreen))
            run = app.screen
            await wait_until(pilot, lambda: run.result is not None, timeout=20)
            assert run.result.outcome == "done", run.result.message
            assert [s["name"] for s in run.result.steps] == ["safety copy", "restore", "check"]
            [start] = [r.evidence for r in Ledger(tmp_path / "launch-signoff.jsonl").records()
                       if r.kind == "action" and r.evidence["event"] == "start"]
            assert start["params"] == {"backup": listed[0]} and start["backup"].endswith(listed[0])
    assert orders(database) == full == 480
    [safety] = tmp_path.glob("shop.before-restore-*.db")
    assert orders(safety) == 10
