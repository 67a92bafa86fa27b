"""remote.Connections against the real OpenSSH sshd on 127.0.0.1:2222 (scripts/services.sh)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from launchdeck.core.config import HostConfig
from launchdeck.run.ssh import Connections, RemoteError

from .conftest import SSHTarget, free_port

pytestmark = pytest.mark.integration


def host_for(target: SSHTarget, **overrides: Any) -> HostConfig:
    values = dict(name="sshd", address=target.host, port=target.port, user=target.username,
                  key=target.client_key, known_hosts=target.known_hosts, connect_timeout=10, keepalive=5)
    return HostConfig(**{**values, **overrides})


def host_key_fingerprint(services_info: dict[str, Any]) -> str:
    """`ssh-keygen -lf` of the sshd's host key: "SHA256:..." (the key file is named in services.json)."""
    out = subprocess.run(["ssh-keygen", "-lf", services_info["ssh"]["host_key_pub"]],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1]


@pytest.fixture
async def pool():
    connections = Connections()
    yield connections
    await connections.close()


async def test_echo_and_id(ssh_target: SSHTarget, pool: Connections):
    host = host_for(ssh_target)
    echo = await pool.run(host, ["echo", "ok"], timeout=10)
    assert (echo.exit_status, echo.stdout, echo.stderr) == (0, "ok\n", "")
    uid = await pool.run(host, ["id", "-u"], timeout=10)
    assert uid.stdout == "0\n"  # services.sh logs in as root


async def test_argv_is_literal_on_a_real_shell(ssh_target: SSHTarget, pool: Connections, tmp_path: Path):
    victim = tmp_path / f"pwned-{secrets.token_hex(4)}"  # same machine: the sshd is on loopback
    value = f"a; touch {victim} $(touch {victim}) `touch {victim}` \"dq\" 'sq' $HOME"
    result = await pool.run(host_for(ssh_target), ["printf", "%s", value], timeout=10)
    assert result.stdout == value and not victim.exists()


async def test_status_stderr_and_input(ssh_target: SSHTarget, pool: Connections):
    result = await pool.run(host_for(ssh_target), ["sh", "-c", "cat; echo err >&2; exit 7"],
                            timeout=10, input="in\n")
    assert (result.exit_status, result.stdout, result.stderr) == (7, "in\n", "err\n")


async def still_running(pool: Connections, host, marker: str, wait: float = 5.0) -> list[str]:
    """The host's `sleep <marker>` processes, once they are gone or `wait` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        ps = await pool.run(host, ["ps", "-eo", "args"], timeout=10)
        left = [line for line in ps.stdout.splitlines() if line.strip() == f"sleep {marker}"]
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.1)


async def test_timeout_kills_the_remote_command(ssh_target: SSHTarget, pool: Connections):
    # OpenSSH refuses "signal" requests for root and leaves a command running when its channel
    # closes: only launchdeck's own kill can stop it.
    host = host_for(ssh_target)
    marker = f"{3600 + secrets.randbelow(1000)}.{secrets.randbelow(10**6)}"
    with pytest.raises(TimeoutError, match="still running after 1s; killed"):
        await pool.run(host, ["sleep", marker], timeout=1)
    assert await still_running(pool, host, marker) == []


async def test_a_cancelled_run_kills_the_remote_command(ssh_target: SSHTarget, pool: Connections):
    # quitting the dashboard mid-verification cancels the task: a 30-minute `gzip -t` must not go on
    host = host_for(ssh_target)
    marker = f"{3600 + secrets.randbelow(1000)}.{secrets.randbelow(10**6)}"
    task = asyncio.create_task(pool.run(host, ["sleep", marker], timeout=60))
    await asyncio.sleep(1.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await still_running(pool, host, marker) == []


async def test_one_connection_for_many_runs(ssh_target: SSHTarget, pool: Connections):
    host = host_for(ssh_target)
    first = await pool.get(host)
    results = await asyncio.gather(*(pool.run(host, ["echo", str(i)], timeout=10) for i in range(12)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(12)]
    assert await pool.get(host) is first


async def test_docker_sdk_through_a_forwarded_socket(ssh_target: SSHTarget, pool: Connections,
                                                      services_info: dict[str, Any]):
    import docker

    host = host_for(ssh_target)
    local = await pool.forward_unix_socket(host, services_info["docker"]["socket"])
    assert local.parent.stat().st_mode & 0o777 == 0o700
    assert await pool.forward_unix_socket(host, services_info["docker"]["socket"]) == local
    # the SDK blocks (its constructor already talks to the engine): keep it off the event loop
    client = await asyncio.to_thread(docker.DockerClient, base_url=f"unix://{local}", timeout=20)
    try:
        assert await asyncio.to_thread(client.ping) is True
        version = await asyncio.to_thread(client.version)
        assert version["Version"] == services_info["docker"]["server_version"]
    finally:
        await asyncio.to_thread(client.close)
    await pool.close()
    assert not local.parent.exists()


async def test_empty_known_hosts_names_the_real_fingerprint(ssh_target: SSHTarget, pool: Connections,
                                                           services_info: dict[str, Any], tmp_path: Path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(RemoteError) as caught:
        await pool.run(host_for(ssh_target, known_hosts=empty), ["echo", "never"], timeout=10)
    expected = host_key_fingerprint(services_info)
    assert str(caught.value) == (
        f"sshd (127.0.0.1:{ssh_target.port}): host key not verified: UNKNOWN host, offered ssh-ed25519 "
        f"{expected} — add it to {empty} after checking it out of band")
    assert caught.value.kind == "unknown-host"


async def test_wrong_key_in_known_hosts_is_changed(ssh_target: SSHTarget, pool: Connections,
                                                  services_info: dict[str, Any], tmp_path: Path):
    import asyncssh

    impostor = asyncssh.generate_private_key("ssh-ed25519")
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{ssh_target.port} {impostor.export_public_key().decode()}")
    with pytest.raises(RemoteError) as caught:
        await pool.get(host_for(ssh_target, known_hosts=wrong))
    message = str(caught.value)
    assert caught.value.kind == "changed-host-key"
    assert (f"host key CHANGED: {wrong} has ssh-ed25519 {impostor.get_fingerprint('sha256')}, "
            f"server offered ssh-ed25519 {host_key_fingerprint(services_info)}") in message
    assert "possible man-in-the-middle; refusing" in message


async def test_closed_port_is_connection_refused(ssh_target: SSHTarget, pool: Connections):
    port = free_port()
    with pytest.raises(RemoteError) as caught:
        await pool.get(host_for(ssh_target, port=port))
    assert str(caught.value) == f"sshd (127.0.0.1:{port}): connection refused"


async def test_unauthorized_key_is_permission_denied(ssh_target: SSHTarget, pool: Connections, tmp_path: Path):
    import asyncssh

    stranger = tmp_path / "id_stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(stranger)
    with pytest.raises(RemoteError, match=r"permission denied \(publickey\) for user root with key"):
        await pool.get(host_for(ssh_target, key=stranger))
