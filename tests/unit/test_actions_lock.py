"""The action lock between real processes, stale locks, and every way an action can stop early.

A second `launchdeck act` is a real Python process; a SIGKILLed holder leaves its lock behind and
it is found stale; cancel (SIGTERM, SIGINT, the cancel event, a cancelled task), timeout, failure
and a crash inside the flow all release the lock and run nothing further.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from launchdeck.actions import lock as locks
from launchdeck.actions.flow import Options, run_action
from launchdeck.actions.plan import build_plan
from launchdeck.audit.chain import verify
from launchdeck.audit.ledger import Ledger, Operator
from launchdeck.cli.act import act
from launchdeck.core.config import load_config

ACT = [sys.executable, "-c", "from launchdeck.cli.act import act; act()"]


def q(value: object) -> str:
    return json.dumps(str(value))


def slow_config(tmp_path: Path, seconds: int = 30, timeout: str = "60s") -> Path:
    """deploy: step 1 records its shell's pid and a child's, then sleeps; step 2 would create `after`."""
    # `$$$$`: the config file's own `$$` escape turns it into the shell's `$$`
    script = (f'echo $$$$ > {tmp_path}/step.pid; sleep {seconds} & echo $! > {tmp_path}/child.pid; '
              f'touch {tmp_path}/started; wait')
    path = tmp_path / "launchdeck.toml"
    path.write_text(f'''[deck]
environment = "staging"
[actions]
enabled = true
[actions.deploy]
confirm = "yes"
watch = "0s"
timeout = "{timeout}"
steps = [{{ name = "slow", argv = ["sh", "-c", {q(script)}] }},
         {{ name = "after", argv = ["touch", {q(tmp_path / "after")}] }}]
''')
    return path


def start_act(config: Path) -> subprocess.Popen:
    return subprocess.Popen([*ACT, "deploy", "--config", str(config), "--confirm", "yes"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie is gone for our purposes
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def events(tmp_path: Path) -> list[dict]:
    return [r.evidence for r in Ledger(tmp_path / "launch-signoff.jsonl").records() if r.kind == "action"]


def lock_file(tmp_path: Path) -> Path:
    return tmp_path / "launch-signoff.jsonl.action.lock"


def test_a_second_process_is_refused_naming_the_holder_then_sigterm_releases(tmp_path: Path):
    config = slow_config(tmp_path)
    first = start_act(config)
    try:
        wait_for(tmp_path / "started")
        second = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes"])
        assert second.exit_code == 2
        who = f"{Operator.current().login}@{socket.gethostname()}"
        assert f"held by {who} (pid {first.pid}) running deploy" in second.output
        assert len([e for e in events(tmp_path) if e["event"] == "start"]) == 1
        first.send_signal(signal.SIGTERM)
        out, _err = first.communicate(timeout=15)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 2 and "cancelled" in out
    assert not lock_file(tmp_path).exists() and not (tmp_path / "after").exists()
    assert gone(int((tmp_path / "step.pid").read_text())) and gone(int((tmp_path / "child.pid").read_text()))
    assert events(tmp_path)[-1]["outcome"] == "cancelled"
    assert verify(tmp_path / "launch-signoff.jsonl").ok


def test_sigint_cancels_too(tmp_path: Path):
    config = slow_config(tmp_path)
    first = start_act(config)
    try:
        wait_for(tmp_path / "started")
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=15)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 2 and not lock_file(tmp_path).exists() and not (tmp_path / "after").exists()
    assert gone(int((tmp_path / "child.pid").read_text()))


def test_a_sigkilled_holder_is_found_stale_and_broken_with_a_recorded_reason(tmp_path: Path):
    config = slow_config(tmp_path)
    first = start_act(config)
    try:
        wait_for(tmp_path / "started")
        first.kill()
        first.communicate(timeout=10)
    finally:
        for name in ("step.pid", "child.pid"):  # its step lives on in its own group: ours to clean up
            try:
                os.killpg(int((tmp_path / name).read_text()), signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError, ValueError):
                pass
    assert lock_file(tmp_path).exists()
    (tmp_path / "started").unlink()
    quick = tmp_path / "launchdeck.toml"
    quick.write_text(quick.read_text().replace("sleep 30", "sleep 0"))
    refused = CliRunner().invoke(act, ["deploy", "--config", str(quick), "--confirm", "yes"])
    assert refused.exit_code == 2 and "stale: its process is gone" in refused.output and "--break-lock" in refused.output
    assert not (tmp_path / "after").exists()
    broke = CliRunner().invoke(act, ["deploy", "--config", str(quick), "--confirm", "yes",
                                     "--break-lock", "holder was SIGKILLed in a test"])
    assert broke.exit_code == 0, broke.output
    records = [r for r in Ledger(tmp_path / "launch-signoff.jsonl").records() if r.kind == "action"]
    broken = [r for r in records if r.evidence["event"] == "lock-broken"]
    assert len(broken) == 1 and broken[0].reason == "holder was SIGKILLed in a test"
    assert broken[0].evidence["holder"]["pid"] == first.pid
    assert (tmp_path / "after").exists() and not lock_file(tmp_path).exists()


def test_a_live_lock_cannot_be_broken(tmp_path: Path):
    path = lock_file(tmp_path)
    mine = locks.ActionLock.mine(path, "bob", "deploy", {}, None)
    locks.acquire(mine)
    with pytest.raises(locks.LockError, match="not stale and cannot be broken"):
        locks.break_stale(path, "I want it")
    with pytest.raises(locks.LockError, match="needs a reason"):
        locks.break_stale(path, "  ")
    assert locks.release(mine) and not path.exists()


def test_a_symlink_in_place_of_the_lock_is_refused(tmp_path: Path):
    target = tmp_path / "elsewhere"
    lock_file(tmp_path).symlink_to(target)
    with pytest.raises(locks.LockError, match="symbolic link"):
        locks.acquire(locks.ActionLock.mine(lock_file(tmp_path), "bob", "deploy", {}, None))
    assert not target.exists()


def test_a_recycled_pid_does_not_keep_a_lock_alive():
    holder = {"host": os.uname().nodename, "pid": os.getpid(), "pid_start": "1"}
    assert locks.is_stale(holder)  # same pid, another start time: another process
    holder["pid_start"] = locks.process_start(os.getpid())
    assert not locks.is_stale(holder)
    assert not locks.is_stale({"host": "another-host", "pid": 1})  # never guessed for another host


def test_timeout_kills_the_whole_group_and_runs_nothing_further(tmp_path: Path):
    config = slow_config(tmp_path, timeout="1s")
    started = time.monotonic()
    result = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes"])
    assert result.exit_code == 2 and "still running after 1s" in result.output
    assert time.monotonic() - started < 10
    assert gone(int((tmp_path / "child.pid").read_text())) and not (tmp_path / "after").exists()
    assert not lock_file(tmp_path).exists()
    assert events(tmp_path)[-2]["outcome"] == "timeout"


def plan_and_options(tmp_path: Path, config_path: Path):
    config = load_config(config_path)
    plan = build_plan(config, "deploy", {}, allow_actions=False)
    return config, plan, Options(tmp_path / "launch-signoff.jsonl", tmp_path / "logs")


async def test_the_cancel_event_kills_the_step_and_releases(tmp_path: Path):
    config, plan, opts = plan_and_options(tmp_path, slow_config(tmp_path))
    task = asyncio.ensure_future(run_action(config, plan, opts))
    while not (tmp_path / "started").exists():
        await asyncio.sleep(0.02)
    opts.cancel.set()
    result = await asyncio.wait_for(task, 15)
    assert result.outcome == "cancelled" and result.exit_code == 2
    assert not lock_file(tmp_path).exists() and not (tmp_path / "after").exists()
    assert gone(int((tmp_path / "child.pid").read_text()))


async def test_a_cancelled_task_records_releases_and_reraises(tmp_path: Path):
    config, plan, opts = plan_and_options(tmp_path, slow_config(tmp_path))
    task = asyncio.ensure_future(run_action(config, plan, opts))
    while not (tmp_path / "started").exists():
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not lock_file(tmp_path).exists() and not (tmp_path / "after").exists()
    assert gone(int((tmp_path / "child.pid").read_text()))
    assert events(tmp_path)[-1]["event"] == "finish" and events(tmp_path)[-1]["outcome"] == "cancelled"


async def test_a_crash_inside_the_flow_is_recorded_and_releases(tmp_path: Path):
    config, plan, opts = plan_and_options(tmp_path, slow_config(tmp_path))

    async def boom():
        raise RuntimeError("disk on fire")

    plan.steps[0].call = boom
    result = await run_action(config, plan, opts)
    assert result.outcome == "failed" and "disk on fire" in result.message
    assert not lock_file(tmp_path).exists() and not (tmp_path / "after").exists()
    assert events(tmp_path)[-1]["outcome"] == "failed"


async def test_an_unwritable_ledger_means_nothing_runs(tmp_path: Path):
    config, plan, opts = plan_and_options(tmp_path, slow_config(tmp_path))
    opts.ledger.mkdir()  # a directory where the ledger should be: the start record cannot be written
    result = await run_action(config, plan, opts)
    assert result.outcome == "failed" and "nothing ran" in result.message
    assert not (tmp_path / "started").exists() and not lock_file(tmp_path).exists()


def lock_holder(tmp_path: Path) -> dict:
    return json.loads(lock_file(tmp_path).read_text())


def wait_for_step_in_lock(tmp_path: Path, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        holder = lock_holder(tmp_path) if lock_file(tmp_path).exists() else {}
        if holder.get("step_pgid"):
            return holder
        assert time.monotonic() < deadline, f"the lock never named its step: {holder}"
        time.sleep(0.02)


def group_gone(pgid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not locks.group_alive(pgid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_kills_the_running_steps_group_and_releases_the_lock(tmp_path: Path, stop):
    config = slow_config(tmp_path)
    first = start_act(config)
    try:
        wait_for(tmp_path / "started")
        holder = wait_for_step_in_lock(tmp_path)
        pgid = int((tmp_path / "step.pid").read_text())
        assert holder["step"] == "slow" and holder["step_pgid"] == pgid and holder["step_host"] == "local"
        assert holder["host"] == socket.gethostname() and holder["boot_id"] == locks.boot_id() and holder["deadline"]
        first.send_signal(stop)
        out, _err = first.communicate(timeout=15)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 2 and "cancelled" in out
    assert group_gone(pgid) and gone(int((tmp_path / "child.pid").read_text()))
    assert not lock_file(tmp_path).exists() and not (tmp_path / "after").exists()
    assert events(tmp_path)[-1]["outcome"] == "cancelled"


def test_a_sigkilled_act_leaves_its_step_running_the_lock_says_so_and_breaking_it_can_kill_it(tmp_path: Path):
    config = slow_config(tmp_path, seconds=60)
    first = start_act(config)
    pgid = None
    try:
        wait_for(tmp_path / "started")
        pgid = wait_for_step_in_lock(tmp_path)["step_pgid"]
        first.kill()
        first.communicate(timeout=10)
        assert locks.group_alive(pgid), "the step lives on in its own process group"
        refused = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes",
                                           "--break-lock", "holder SIGKILLed"])
        assert refused.exit_code == 2
        assert f"its step slow is still running (process group {pgid})" in refused.output, refused.output
        assert "--kill-orphan" in refused.output and locks.group_alive(pgid) and lock_file(tmp_path).exists()
        (tmp_path / "started").unlink()
        config.write_text(config.read_text().replace("sleep 60", "sleep 0"))
        broke = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes",
                                         "--break-lock", "holder SIGKILLed", "--kill-orphan"])
        assert broke.exit_code == 0, broke.output
        assert group_gone(pgid) and gone(int((tmp_path / "child.pid").read_text()))
    finally:
        if pgid is not None and locks.group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    [broken] = [e for e in events(tmp_path) if e["event"] == "lock-broken"]
    assert broken["orphan_killed"] == pgid and broken["holder"]["pid"] == first.pid
    assert (tmp_path / "after").exists() and not lock_file(tmp_path).exists()
    assert verify(tmp_path / "launch-signoff.jsonl").ok


def other_host_lock(tmp_path: Path, deadline_ago: float) -> dict:
    holder = {"login": "carol", "host": "ops-elsewhere", "boot_id": "b00t", "pid": 4242, "action": "deploy",
              "params": {"version": "v7"}, "started": time.time() - 7200, "deadline": time.time() - deadline_ago,
              "token": "theirs"}
    lock_file(tmp_path).write_text(json.dumps(holder))
    return holder


def test_another_hosts_lock_is_stale_only_past_its_timeout_plus_grace_and_breaking_it_is_recorded(tmp_path: Path):
    config = slow_config(tmp_path, seconds=0)
    other_host_lock(tmp_path, deadline_ago=30)  # its timeout passed half a minute ago: still within the grace
    held = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes", "--break-lock", "gone"])
    assert held.exit_code == 2 and "held by carol@ops-elsewhere (pid 4242)" in held.output
    assert "from another host: judged stale only after its action's timeout plus 10m grace (in 9m)" in held.output
    assert "stale:" not in held.output and not (tmp_path / "after").exists()

    other_host_lock(tmp_path, deadline_ago=3600)
    refused = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes"])
    assert refused.exit_code == 2 and "--break-lock" in refused.output
    assert "stale: held from another host, 50m past its action's timeout plus 10m grace" in refused.output
    broke = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes",
                                     "--break-lock", "ops-elsewhere was reimaged"])
    assert broke.exit_code == 0, broke.output
    [broken] = [r for r in Ledger(tmp_path / "launch-signoff.jsonl").records()
                if r.kind == "action" and r.evidence["event"] == "lock-broken"]
    assert broken.reason == "ops-elsewhere was reimaged" and broken.evidence["holder"]["host"] == "ops-elsewhere"
    assert "stale: held from another host, 50m past its action's timeout plus 10m grace" in broken.item_text
    assert (tmp_path / "after").exists() and not lock_file(tmp_path).exists()


def test_a_lock_from_this_host_before_a_reboot_is_stale():
    holder = {"host": socket.gethostname(), "boot_id": "a-boot-before-this-one", "pid": os.getpid(),
              "pid_start": locks.process_start(os.getpid())}
    assert "rebooted since" in (locks.staleness(holder) or "")
    holder["boot_id"] = locks.boot_id()
    assert locks.staleness(holder) is None  # this very process: alive
    assert locks.staleness({"host": "elsewhere", "pid": 1}) is None  # another host, no deadline: never guessed


def test_a_dead_holders_remote_step_is_named_but_not_judged_from_here(tmp_path: Path):
    gone_pid = subprocess.Popen(["true"])
    gone_pid.wait()
    holder = {"login": "bob", "host": socket.gethostname(), "boot_id": locks.boot_id(), "pid": gone_pid.pid,
              "action": "deploy", "params": {}, "started": time.time() - 60, "token": "t",
              "step": "restart", "step_host": "vps1", "step_pgid": os.getpid()}  # a live pid here: not ours to judge
    lock_file(tmp_path).write_text(json.dumps(holder))
    words = locks.describe(holder, lock_file(tmp_path))
    assert "stale: its process is gone" in words
    assert f"its step restart ran on host vps1 (process group {os.getpid()} there): not checked from here" in words
    assert locks.orphan(holder) is None
    assert locks.break_stale(lock_file(tmp_path), "bob's laptop died")["token"] == "t"
    assert not lock_file(tmp_path).exists()
