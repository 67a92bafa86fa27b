"""`launchdeck demo --allow-actions`: deploy v2 really breaks the demo stack, the watch window sees it,
rollback and restore really repair it, and the ledger holds every step. Real processes throughout:
the stack's servers, `launchdeck act` as a subprocess, the demo's deploy and restore programs."""

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launchdeck.cli.oneshot import run_check
from launchdeck.core.config import load_config
from launchdeck.demo.actions import (
    CONFIRM_RESTORE,
    DATABASE,
    action_services,
    deploy_first,
)
from launchdeck.demo.stack import DemoStack

pytestmark = pytest.mark.integration
LAUNCHER = str(Path(sys.executable).with_name("launchdeck"))


def act(config: Path, *words: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([LAUNCHER, "act", *words, "--config", str(config)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def orders(database: Path) -> int:
    db = sqlite3.connect(database)
    try:
        return db.execute("SELECT count(*) FROM orders").fetchone()[0]
    finally:
        db.close()


def checkout_traffic(config: Path):
    _verdict, readings = asyncio.run(run_check(load_config(config)))
    return next(r for r in readings if r.panel == "traffic" and r.target == "checkout")


def finishes(config: Path) -> list[dict]:
    lines = (config.parent / "launch-signoff.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return [r["evidence"] for r in records if r.get("kind") == "action" and r["evidence"]["event"] == "finish"]


@pytest.fixture
def demo(tmp_path):
    with DemoStack(action_services(), seed=5) as stack:
        config = stack.write_config(tmp_path, allow_actions=True)
        first = deploy_first(config)
        assert first.outcome == "done", first.message
        yield stack, config


def test_deploy_v2_breaches_rollback_and_restore_repair_the_demo(demo):
    stack, config = demo
    checkout = stack.services["checkout"]
    database = config.parent / DATABASE
    full = orders(database)
    assert checkout.version == "v1" and full == 480

    refused = act(config, "deploy", "--param", "version=v2; rm -rf /", "--confirm", "production")
    assert refused.returncode == 2 and "does not match its pattern" in refused.stderr
    assert checkout.version == "v1", "a refusal runs nothing"

    started = time.monotonic()
    deployed = act(config, "deploy", "--param", "version=v2", "--confirm", "production")
    assert deployed.returncode == 1, deployed.stdout + deployed.stderr
    assert "watch window breached" in deployed.stdout and "traffic checkout: error ratio" in deployed.stdout
    assert time.monotonic() - started < 20, "the breach ends the watch window early"
    assert checkout.version == "v2" and checkout.error_ratio == pytest.approx(0.30)
    assert orders(database) == full // 2, "v2's migration lost half the orders"

    rolled = act(config, "rollback", "--confirm", "production")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "rolling back from v2 to v1" in rolled.stdout
    assert checkout.version == "v1" and checkout.error_ratio == pytest.approx(0.005)
    traffic = checkout_traffic(config)  # read fresh, as `launchdeck check` does
    assert traffic.status.value in ("ok", "warn") and traffic.values["error_ratio"] < 0.05, traffic.reason
    assert orders(database) == full // 2, "a rollback does not bring data back"

    wrong = act(config, "restore", "--confirm", "production")
    assert wrong.returncode == 2 and orders(database) == full // 2
    restored = act(config, "restore", "--confirm", CONFIRM_RESTORE)  # the newest main_db dump listed
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert orders(database) == full
    [safety] = config.parent.glob("shop.before-restore-*.db")
    assert orders(safety) == full // 2, "the safety copy holds the database as it was before the restore"

    done = [(f["action"], f["params"].get("version") or f["params"].get("backup"), f["outcome"])
            for f in finishes(config)]
    assert done == [("deploy", "v1", "done"), ("deploy", "v2", "breached"), ("rollback", "v1", "done"),
                    ("restore", max(p.name for p in (config.parent / "backups").glob("main_db_*.sql.gz")), "done")]
    ledger = config.parent / "launch-signoff.jsonl"
    verified = subprocess.run([LAUNCHER, "signoff", "verify", str(ledger)], capture_output=True, text=True,
                              timeout=30, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_unknown_release_fails_its_step_and_changes_nothing(demo):
    stack, config = demo
    failed = act(config, "deploy", "--param", "version=v9", "--confirm", "production")
    assert failed.returncode == 2 and "no release 'v9'" in failed.stdout
    assert stack.services["checkout"].version == "v1"
    assert [f["outcome"] for f in finishes(config)] == ["done", "failed"]


def test_without_allow_actions_the_demo_config_has_no_actions(tmp_path):
    with DemoStack(seed=1) as stack:
        text = stack.write_config(tmp_path).read_text()
    assert "[actions" not in text and 'window = "1m"' in text
    assert not (tmp_path / DATABASE).exists() and stack.release_file is None


def test_launchdeck_demo_allow_actions_deploys_v1_at_start_and_cleans_up(tmp_path):
    demo = subprocess.Popen([LAUNCHER, "demo", "--allow-actions", "--no-tui"], stdout=subprocess.PIPE, text=True)
    try:
        said = [demo.stdout.readline() for _ in range(3)]
        assert "demo: deploy v1: done" in said[1], said
        config = Path(said[2].split("config: ")[1].strip())
        assert "[actions.restore]" in config.read_text()
        rollback = act(config, "rollback", "--confirm", "production")
        assert rollback.returncode == 2 and "no previous good version" in rollback.stderr, "v1 is the only good one"
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=15)
    assert not config.parent.exists(), "the demo's temp dir (database, ledger, release file) is removed"


def test_restore_refuses_a_path_or_a_command_as_the_dump_and_runs_nothing(demo):
    _stack, config = demo
    database = config.parent / DATABASE
    before = database.read_bytes()
    for dump in ("../launchdeck.toml", str(config), "backups/../launchdeck.toml", "newest; rm -rf /", "$(id)",
                 "main_db_1.sql.gz\nnewest", "main_db_20000101_000000.sql.gz"):
        refused = act(config, "restore", "--backup", dump, "--confirm", CONFIRM_RESTORE)
        assert refused.returncode == 2 and "not in the listing of backups 'main_db'" in refused.stderr, refused.stderr
    assert database.read_bytes() == before, "a refused restore leaves the database as it was"
    assert [f["outcome"] for f in finishes(config)] == ["done"], "a dump not listed never reaches a step"
