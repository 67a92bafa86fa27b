"""Action steps over SSH against the real OpenSSH sshd (scripts/services.sh): streaming, exit status,
timeout, cancel, 10 MB of output, non-UTF-8 bytes, a missing command, host keys, auth, injection, the
host lock. The sshd is on loopback, so the test sees the files and processes a step leaves behind.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from launchdeck.actions.output import MEMORY_LINES, ActionLog
from launchdeck.actions.remote import REMOTE_LOCK_DIR, run_remote_step
from launchdeck.audit.ledger import Ledger
from launchdeck.cli.act import act
from launchdeck.core.config import HostConfig
from launchdeck.run.ssh import Connections

from .conftest import SSHTarget
from .test_remote import still_running  # the host's `sleep <marker>` processes, once gone

pytestmark = pytest.mark.integration
ECHO_ARGV = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


def host_for(target: SSHTarget, **overrides: Any) -> HostConfig:
    values = {"name": "sshd", "address": target.host, "port": target.port, "user": target.username,
                  "key": target.client_key, "known_hosts": target.known_hosts, "connect_timeout": 10, "keepalive": 5}
    return HostConfig(**{**values, **overrides})


@pytest.fixture
async def pool():
    connections = Connections()
    yield connections
    await connections.close()


def new_log(tmp_path: Path, lines: list | None = None) -> ActionLog:
    return ActionLog(tmp_path / f"{secrets.token_hex(4)}.log",
                     (lambda stream, line: lines.append((time.monotonic(), stream, line))) if lines is not None else None)


async def step(pool, host, argv, log, timeout=30.0, cancel=None, env=None):
    return await run_remote_step(pool, host, argv, log, timeout=timeout, cancel=cancel or asyncio.Event(), env=env)


async def test_streams_lines_as_they_come_with_stdout_and_stderr(ssh_target, pool, tmp_path):
    lines: list = []
    log = new_log(tmp_path, lines)
    started = time.monotonic()
    result = await step(pool, host_for(ssh_target), ["sh", "-c", "echo one; echo oops >&2; sleep 1.5; echo two"], log)
    ended = time.monotonic()
    assert result.outcome == "ok" and result.exit_status == 0
    shown = {line: (at, stream) for at, stream, line in lines}
    assert shown["one"][1] == "out" and shown["oops"][1] == "err" and shown["two"][1] == "out"
    assert shown["one"][0] - started < 1.2 and ended - shown["one"][0] > 1.0  # seen before the command ended
    log.close()
    assert b"one\n" in log.path.read_bytes() and b"two\n" in log.path.read_bytes()


async def test_exit_status_and_env(ssh_target, pool, tmp_path):
    result = await step(pool, host_for(ssh_target), ["sh", "-c", 'echo "$LD_WORD"; exit 7'], new_log(tmp_path),
                        env={"LD_WORD": "it's $(literal)"})
    assert result.outcome == "failed" and result.exit_status == 7 and "exited 7" in result.message


async def test_a_missing_command_is_a_clear_failure(ssh_target, pool, tmp_path):
    result = await step(pool, host_for(ssh_target), ["no-such-launchdeck-tool", "x"], new_log(tmp_path))
    assert result.outcome == "not-found" and "command not found (exit 127)" in result.message


async def test_timeout_kills_the_remote_process_group(ssh_target, pool, tmp_path):
    host = host_for(ssh_target)
    marker = f"{3600 + secrets.randbelow(1000)}.{secrets.randbelow(10**6)}"
    result = await step(pool, host, ["sh", "-c", f"sleep {marker} & sleep {marker}; wait"], new_log(tmp_path),
                        timeout=1.5)
    assert result.outcome == "timeout" and "still running after 1.5s" in result.message
    assert await still_running(pool, host, marker) == []


async def test_cancel_kills_the_remote_process_group(ssh_target, pool, tmp_path):
    host = host_for(ssh_target)
    marker = f"{3600 + secrets.randbelow(1000)}.{secrets.randbelow(10**6)}"
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(1.0, cancel.set)
    result = await step(pool, host, ["sh", "-c", f"sleep {marker} & sleep {marker}; wait"], new_log(tmp_path),
                        cancel=cancel)
    assert result.outcome == "cancelled"
    assert await still_running(pool, host, marker) == []


async def test_ten_megabytes_of_output_logged_whole_and_capped_in_memory(ssh_target, pool, tmp_path):
    log = new_log(tmp_path)
    # 163,840 lines of 63 characters + newline: exactly 10 MiB
    script = "yes 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' | head -n 163840"
    started = time.monotonic()
    result = await step(pool, host_for(ssh_target), ["sh", "-c", script], log, timeout=120)
    took = time.monotonic() - started
    assert result.outcome == "ok"
    log.close()
    assert log.path.stat().st_size == 10 * 1024 * 1024
    assert len(log.tail) == MEMORY_LINES
    print(f"10 MiB over ssh streamed in {took:.2f}s")


async def test_non_utf8_output_is_replaced_never_fatal(ssh_target, pool, tmp_path):
    lines: list = []
    log = new_log(tmp_path, lines)
    result = await step(pool, host_for(ssh_target), ["printf", "caf\\351 \\377\\376 ok\\n"], log)
    assert result.outcome == "ok"
    assert [line for _at, _s, line in lines] == ["caf\ufffd \ufffd\ufffd ok"]
    log.close()
    assert log.path.read_bytes() == b"caf\xe9 \xff\xfe ok\n"


async def test_unknown_host_key_is_refused_with_the_fingerprint(ssh_target, pool, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    result = await step(pool, host_for(ssh_target, known_hosts=empty), ["touch", str(tmp_path / "ran")],
                        new_log(tmp_path))
    assert result.outcome == "error" and "UNKNOWN host, offered ssh-ed25519 SHA256:" in result.message
    assert not (tmp_path / "ran").exists()


async def test_changed_host_key_is_refused(ssh_target, pool, tmp_path):
    import asyncssh

    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{ssh_target.port} {impostor.export_public_key().decode()}")
    result = await step(pool, host_for(ssh_target, known_hosts=wrong), ["touch", str(tmp_path / "ran")],
                        new_log(tmp_path))
    assert result.outcome == "error" and "host key CHANGED" in result.message and "refusing" in result.message
    assert not (tmp_path / "ran").exists()


async def test_auth_failure_is_named(ssh_target, pool, tmp_path):
    import asyncssh

    stranger = tmp_path / "id_stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(stranger)
    result = await step(pool, host_for(ssh_target, key=stranger), ["touch", str(tmp_path / "ran")], new_log(tmp_path))
    assert result.outcome == "error" and "permission denied (publickey) for user root" in result.message
    assert not (tmp_path / "ran").exists()


# ---------------------------------------------------------------- the whole flow over ssh

def q(value: object) -> str:
    return json.dumps(str(value))


def ssh_config(tmp_path: Path, target: SSHTarget, argv: str, params: str = "") -> Path:
    path = tmp_path / "launchdeck.toml"
    path.write_text(f'''[deck]
environment = "staging"
[[hosts]]
name = "sshd"
address = {q(target.host)}
port = {target.port}
user = {q(target.username)}
key = {q(target.client_key)}
known_hosts = {q(target.known_hosts)}
[actions]
enabled = true
[actions.deploy]
host = "sshd"
confirm = "yes"
watch = "0s"
argv = {argv}
{params}
''')
    return path


@pytest.fixture
def clean_host_lock():
    shutil.rmtree(REMOTE_LOCK_DIR, ignore_errors=True)
    yield Path(REMOTE_LOCK_DIR)
    shutil.rmtree(REMOTE_LOCK_DIR, ignore_errors=True)


@pytest.mark.parametrize("value", ["; rm -rf /", "$(id)", "`id`", "a\nb", "x' \"y\" | touch /tmp/pwned-ld-ssh"])
def test_injection_attempts_reach_the_remote_command_literally(ssh_target, tmp_path, value, clean_host_lock):
    marker = tmp_path / "argv.json"
    config = ssh_config(tmp_path, ssh_target, f'[{q(sys.executable)}, "-c", {q(ECHO_ARGV)}, {q(marker)}, "{{v}}"]',
                        "params = { v = '(?s).*' }")
    result = CliRunner().invoke(act, ["deploy", "--config", str(config), "--param", f"v={value}", "--confirm", "yes"])
    assert result.exit_code == 0, result.output
    assert json.loads(marker.read_text()) == [value] and not Path("/tmp/pwned-ld-ssh").exists()
    assert not clean_host_lock.exists()  # the host lock was taken and removed


def test_a_held_host_lock_refuses_and_a_stale_one_is_broken_with_a_reason(ssh_target, tmp_path, clean_host_lock):
    ran = tmp_path / "ran"
    config = ssh_config(tmp_path, ssh_target, f'["touch", {q(ran)}]')
    clean_host_lock.mkdir()
    holder = {"login": "carol", "host": "ops9", "pid": 1, "action": "restore", "started": time.time(),
              "deadline": time.time() + 3600}
    (clean_host_lock / "holder").write_text(json.dumps(holder, separators=(",", ":")) + "\n")
    held = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes"])
    assert held.exit_code == 2 and "host sshd is locked by carol@ops9 (pid 1) running restore" in held.output
    assert not ran.exists() and clean_host_lock.exists()
    holder["deadline"] = time.time() - 1  # its holder's own deadline has passed: stale
    (clean_host_lock / "holder").write_text(json.dumps(holder, separators=(",", ":")) + "\n")
    stale = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes"])
    assert stale.exit_code == 2 and "stale" in stale.output and "--break-lock" in stale.output and not ran.exists()
    broke = CliRunner().invoke(act, ["deploy", "--config", str(config), "--confirm", "yes",
                                     "--break-lock", "carol's laptop died"])
    assert broke.exit_code == 0, broke.output
    assert ran.exists() and not clean_host_lock.exists()
    records = Ledger(tmp_path / "launch-signoff.jsonl").records()
    broken = [r for r in records if r.evidence and r.evidence.get("event") == "lock-broken"]
    assert broken[0].reason == "carol's laptop died" and broken[0].evidence["holder"]["login"] == "carol"


def test_sigterm_during_a_remote_step_kills_it_and_releases_both_locks(ssh_target, tmp_path, clean_host_lock):
    marker = f"{3600 + secrets.randbelow(1000)}.{secrets.randbelow(10**6)}"
    config = ssh_config(tmp_path, ssh_target, f'["sh", "-c", "touch {tmp_path}/started; sleep {marker}"]')
    proc = subprocess.Popen([sys.executable, "-c", "from launchdeck.cli.act import act; act()", "deploy",
                             "--config", str(config), "--confirm", "yes"], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2 and "cancelled" in out
    assert not clean_host_lock.exists() and not (tmp_path / "launch-signoff.jsonl.action.lock").exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert f"sleep {marker}" not in ps


async def test_the_remote_steps_process_group_is_told_for_the_action_lock(ssh_target, pool, tmp_path):
    """on_spawn gets the remote group's id: the step's `ps -o pgid= $$` there says the same number."""
    host = host_for(ssh_target)
    told: list[int] = []
    lines: list = []
    result = await run_remote_step(pool, host, ["sh", "-c", "ps -o pgid= -p $$"], new_log(tmp_path, lines),
                                   timeout=30, cancel=asyncio.Event(), on_spawn=told.append)
    assert result.outcome == "ok", result.message
    printed = [int(line.strip()) for _at, stream, line in lines if stream == "out" and line.strip().isdigit()]
    assert len(told) == 1 and printed == told, (told, lines)
