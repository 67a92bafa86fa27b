"""remote.Connections against asyncssh's own server on a loopback port, with generated keys.

The test server runs each command with the local /bin/sh in its own session, like sshd, and
like OpenSSH for root it neither honours "signal" requests nor kills a command whose channel
was closed: a timed-out command only dies if launchdeck kills it itself.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from launchdeck.core.config import HostConfig
from launchdeck.run.ssh import CompletedRun, Connections, RemoteError

LOOPBACK = "127.0.0.1"


@dataclass
class ServerState:
    conns: list[asyncssh.SSHServerConnection] = field(default_factory=list)
    children: list[asyncio.subprocess.Process] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)


class _Server(asyncssh.SSHServer):
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.state.conns.append(conn)

    def unix_connection_requested(self, dest_path: str) -> bool:
        return True  # lets the forward test reach a unix socket on "the host"


def _handler(state: ServerState):
    async def handle(process: asyncssh.SSHServerProcess) -> None:
        child = await asyncio.create_subprocess_shell(
            process.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)
        state.children.append(child)

        async def feed() -> None:
            while True:
                try:
                    data = await process.stdin.read(65536)
                except asyncssh.SignalReceived as exc:  # ignored, as OpenSSH does for root
                    state.signals.append(exc.signal)
                    continue
                if not data:
                    break
                child.stdin.write(data)
            child.stdin.close()

        async def copy(source: asyncio.StreamReader, target: asyncssh.SSHWriter) -> None:
            while data := await source.read(65536):
                if not process.channel.is_closing():
                    target.write(data)

        feeder = asyncio.create_task(feed())
        await asyncio.gather(copy(child.stdout, process.stdout), copy(child.stderr, process.stderr))
        status = await child.wait()
        feeder.cancel()
        if not process.channel.is_closing():
            process.exit(status if status >= 0 else 128 - status)

    return handle


@dataclass
class Keys:
    host: asyncssh.SSHKey
    other_host: asyncssh.SSHKey
    client: Path
    stranger: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    directory = tmp_path_factory.mktemp("keys")
    client, stranger = directory / "id_client", directory / "id_stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(client)
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(stranger)
    return Keys(asyncssh.generate_private_key("ssh-ed25519"), asyncssh.generate_private_key("ssh-ed25519"),
                client, stranger)


@dataclass
class Sshd:
    port: int
    state: ServerState
    known_hosts: Path
    keys: Keys
    server: asyncssh.SSHAcceptor

    def host(self, **overrides) -> HostConfig:
        values = dict(name="vps1", address=LOOPBACK, port=self.port, user="deploy", key=self.keys.client,
                      known_hosts=self.known_hosts, connect_timeout=5)
        return HostConfig(**{**values, **overrides})

    def fingerprint(self) -> str:
        return self.keys.host.get_fingerprint("sha256")


def known_line(port: int, key: asyncssh.SSHKey) -> str:
    return f"[{LOOPBACK}]:{port} {key.export_public_key().decode().strip()}\n"


@pytest.fixture
async def sshd(keys: Keys, tmp_path: Path):
    state = ServerState()
    client_pub = asyncssh.read_private_key(keys.client).export_public_key().decode()
    server = await asyncssh.create_server(
        lambda: _Server(state), LOOPBACK, 0, server_host_keys=[keys.host],
        authorized_client_keys=asyncssh.import_authorized_keys(client_pub),
        process_factory=_handler(state), encoding=None)
    port = server.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_line(port, keys.host))
    yield Sshd(port, state, known_hosts, keys, server)
    server.close()
    await server.wait_closed()
    for child in state.children:
        if child.returncode is None:
            os.killpg(child.pid, 9)
            await child.wait()


@pytest.fixture
async def pool():
    connections = Connections()
    yield connections
    await connections.close()


# --- running commands -------------------------------------------------------------------------

async def test_run_returns_status_stdout_and_stderr(sshd: Sshd, pool: Connections):
    result = await pool.run(sshd.host(), ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=5)
    assert result == CompletedRun(3, "out\n", "err\n")


async def test_run_feeds_input(sshd: Sshd, pool: Connections):
    result = await pool.run(sshd.host(), ["tr", "a-z", "A-Z"], timeout=5, input="hello\n")
    assert (result.exit_status, result.stdout) == (0, "HELLO\n")


async def test_argv_reaches_the_remote_shell_literally(sshd: Sshd, pool: Connections, tmp_path: Path):
    victim = tmp_path / "pwned-XYZ"
    value = f"a; touch {victim} $(touch {victim}) `touch {victim}` \"dq\" 'sq' | & > * $HOME"
    result = await pool.run(sshd.host(), ["printf", "%s", value], timeout=5)
    assert result.stdout == value
    assert result.exit_status == 0
    assert not victim.exists()


async def test_empty_argv_is_refused(sshd: Sshd, pool: Connections):
    with pytest.raises(ValueError, match="argv is empty"):
        await pool.run(sshd.host(), [], timeout=5)


async def test_timeout_kills_the_remote_command(sshd: Sshd, pool: Connections):
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"vps1: `sleep` still running after 0\.5s; killed"):
        await pool.run(sshd.host(), ["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 3
    child = sshd.state.children[0]  # [1] is launchdeck's `kill`
    assert await asyncio.wait_for(child.wait(), 3) == -9  # SIGKILL, not the 30 s sleep ending
    # the connection is still good for the next poll
    assert (await pool.run(sshd.host(), ["echo", "next"], timeout=5)).stdout == "next\n"
    assert len(sshd.state.conns) == 1


# --- the pool ---------------------------------------------------------------------------------

async def test_one_connection_serves_several_runs(sshd: Sshd, pool: Connections):
    for word in ("one", "two", "three"):
        assert (await pool.run(sshd.host(), ["echo", word], timeout=5)).stdout == f"{word}\n"
    await asyncio.gather(*(pool.run(sshd.host(), ["true"], timeout=5) for _ in range(5)))
    assert len(sshd.state.conns) == 1


async def test_concurrent_callers_share_one_connect(sshd: Sshd, pool: Connections):
    conns = await asyncio.gather(*(pool.get(sshd.host()) for _ in range(6)))
    assert len({id(c) for c in conns}) == 1
    assert len(sshd.state.conns) == 1


async def test_reconnects_after_the_server_dropped_the_connection(sshd: Sshd, pool: Connections):
    assert (await pool.run(sshd.host(), ["echo", "before"], timeout=5)).stdout == "before\n"
    # run again at once: the client may not have noticed yet (asyncssh marks it closed a loop turn
    # after the session open fails), so this also covers the reopen-once path
    sshd.state.conns[0].close()
    await sshd.state.conns[0].wait_closed()
    assert (await pool.run(sshd.host(), ["echo", "after"], timeout=5)).stdout == "after\n"
    assert len(sshd.state.conns) == 2
    # and once the client has seen the close, get() alone reconnects
    old = await pool.get(sshd.host())
    sshd.state.conns[1].close()
    await old.wait_closed()
    assert await pool.get(sshd.host()) is not old
    assert len(sshd.state.conns) == 3


async def test_changed_host_config_gets_a_new_connection(sshd: Sshd, pool: Connections):
    first = await pool.get(sshd.host())
    second = await pool.get(sshd.host(keepalive=30))
    assert first is not second and first.is_closed()


async def test_forward_unix_socket(sshd: Sshd, pool: Connections, tmp_path: Path):
    remote = tmp_path / "engine.sock"

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo:" + await reader.readline())
        await writer.drain()
        writer.close()

    engine = await asyncio.start_unix_server(echo, path=str(remote))
    try:
        local = await pool.forward_unix_socket(sshd.host(), str(remote))
        assert local.name == "engine.sock" and local != remote
        assert stat.S_IMODE(local.parent.stat().st_mode) == 0o700
        reader, writer = await asyncio.open_unix_connection(str(local))
        writer.write(b"ping\n")
        assert await reader.read() == b"echo:ping\n"
        writer.close()
        assert await pool.forward_unix_socket(sshd.host(), str(remote)) == local  # reused

        client_side = await pool.get(sshd.host())
        sshd.state.conns[0].close()
        await client_side.wait_closed()
        again = await pool.forward_unix_socket(sshd.host(), str(remote))
        assert again != local and not local.parent.exists()
        reader, writer = await asyncio.open_unix_connection(str(again))
        writer.write(b"pong\n")
        assert await reader.read() == b"echo:pong\n"
        writer.close()
        await pool.close()
        assert not again.parent.exists()
    finally:
        engine.close()


async def test_forward_to_a_missing_socket_fails_clearly(sshd: Sshd, pool: Connections, tmp_path: Path):
    with pytest.raises(RemoteError, match=r"vps1 \(127\.0\.0\.1:\d+\): cannot reach .*nothing\.sock"):
        await pool.forward_unix_socket(sshd.host(), str(tmp_path / "nothing.sock"))


# --- host keys ----------------------------------------------------------------------------------

async def test_unknown_host_key_names_the_offered_fingerprint(sshd: Sshd, pool: Connections):
    sshd.known_hosts.write_text("")
    with pytest.raises(RemoteError) as caught:
        await pool.run(sshd.host(), ["echo", "never"], timeout=5)
    error = caught.value
    assert error.host == "vps1" and error.kind == "unknown-host"
    assert f"UNKNOWN host, offered ssh-ed25519 {sshd.fingerprint()}" in str(error)
    assert str(sshd.known_hosts) in str(error)
    assert sshd.fingerprint().startswith("SHA256:")
    assert not sshd.state.children  # nothing ran


async def test_changed_host_key_is_called_changed(sshd: Sshd, pool: Connections):
    sshd.known_hosts.write_text(known_line(sshd.port, sshd.keys.other_host))
    with pytest.raises(RemoteError) as caught:
        await pool.get(sshd.host())
    message = str(caught.value)
    assert caught.value.kind == "changed-host-key"
    assert "host key CHANGED" in message and "man-in-the-middle" in message
    assert (f"has ssh-ed25519 {sshd.keys.other_host.get_fingerprint('sha256')}, "
            f"server offered ssh-ed25519 {sshd.fingerprint()} —") in message


async def test_missing_known_hosts_refuses_without_connecting(sshd: Sshd, pool: Connections, tmp_path: Path):
    missing = tmp_path / "nope" / "known_hosts"
    with pytest.raises(RemoteError, match=re.escape(f"no known_hosts file at {missing}: refusing to connect")):
        await pool.get(sshd.host(known_hosts=missing))
    assert sshd.state.conns == []


async def test_user_ssh_config_cannot_switch_checking_off(sshd: Sshd, pool: Connections, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text("Host *\n  UserKnownHostsFile none\n  StrictHostKeyChecking no\n")
    (home / ".ssh" / "known_hosts").write_text("")  # the default file, where the key is not
    (home / ".ssh" / "id_ed25519").write_bytes(sshd.keys.client.read_bytes())
    monkeypatch.setenv("HOME", str(home))
    # control: with asyncssh's defaults that config really does turn checking off
    conn = await asyncssh.connect(LOOPBACK, sshd.port, username="deploy", client_keys=[str(sshd.keys.client)])
    conn.close()
    host = sshd.host(known_hosts=None, key=Path("~/.ssh/id_ed25519"))
    expected = f"UNKNOWN host, offered ssh-ed25519 {sshd.fingerprint()} — add it to {home}/.ssh/known_hosts"
    with pytest.raises(RemoteError, match=re.escape(expected)):
        await pool.get(host)
    (home / ".ssh" / "known_hosts").write_text(known_line(sshd.port, sshd.keys.host))
    assert (await pool.run(host, ["echo", "verified"], timeout=5)).stdout == "verified\n"


# --- other failures -----------------------------------------------------------------------------

async def test_wrong_key_is_permission_denied_without_key_material(sshd: Sshd, pool: Connections):
    with pytest.raises(RemoteError) as caught:
        await pool.get(sshd.host(key=sshd.keys.stranger))
    message = str(caught.value)
    assert message == (f"vps1 (127.0.0.1:{sshd.port}): permission denied (publickey) for user deploy "
                       f"with key {sshd.keys.stranger}")
    secret = sshd.keys.stranger.read_text()
    assert not any(line in message for line in secret.splitlines()[1:-1])


async def test_encrypted_key_without_agent_is_explained(sshd: Sshd, pool: Connections, tmp_path: Path):
    locked = tmp_path / "id_locked"
    asyncssh.read_private_key(sshd.keys.client).write_private_key(locked, "pkcs8-pem", passphrase="hunter2")
    with pytest.raises(RemoteError, match="cannot use key .*id_locked: it is encrypted") as caught:
        await pool.get(sshd.host(key=locked))
    assert "hunter2" not in str(caught.value)


async def test_missing_key_file(sshd: Sshd, pool: Connections, tmp_path: Path):
    with pytest.raises(RemoteError, match=re.escape(f"key file {tmp_path}/absent not found")):
        await pool.get(sshd.host(key=tmp_path / "absent"))


async def test_connection_refused(sshd: Sshd, pool: Connections):
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(RemoteError) as caught:
        await pool.get(sshd.host(port=closed_port))
    assert str(caught.value) == f"vps1 (127.0.0.1:{closed_port}): connection refused"
    assert caught.value.kind == "refused"


async def test_silent_server_times_out(sshd: Sshd, pool: Connections):
    silent = await asyncio.start_server(lambda r, w: None, LOOPBACK, 0)  # accepts, never greets
    port = silent.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(RemoteError, match=rf"vps1 \(127\.0\.0\.1:{port}\): timed out after 0\.5s"):
            await pool.get(sshd.host(port=port, connect_timeout=0.5))
        assert time.monotonic() - started < 2
    finally:
        silent.close()
