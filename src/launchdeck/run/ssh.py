"""asyncssh connections shared by probes and actions, with strict host-key checking.

One `Connections` pool per app: a host's connection is opened once and reused, because an SSH
handshake over a slow link costs far more than a poll. Host keys are always verified against an
explicit known_hosts file: `config=None` keeps ~/.ssh/config out (its `UserKnownHostsFile none`
would silently turn checking off), and a failed check says whether the host is UNKNOWN or its
key CHANGED, with the fingerprint the server offered, so the operator can act on it.

Authentication: with `key` set only that key is offered and the ssh-agent is not consulted (what
runs on production should not depend on whose agent is forwarded); without `key`, asyncssh's
defaults apply: the ~/.ssh/id_* keys and the agent at $SSH_AUTH_SOCK.

A timed-out command must not keep running on the host. OpenSSH ignores the SSH "signal"
request for root sessions and does not kill a command (without a pty) when its channel closes,
so `run()` has the remote shell print its pid first and, on timeout, kills that process group
over a second channel before closing the first.
"""

from __future__ import annotations

import asyncio
import errno
import re
import shlex
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.pool import run_blocking

if TYPE_CHECKING:
    from asyncssh import SSHClientConnection, SSHKey, SSHListener

    from launchdeck.core.config import HostConfig

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
KEEPALIVE_COUNT_MAX = 3  # missed keepalives before the connection counts as lost
FINGERPRINT_TIMEOUT = 5.0  # seconds to fetch the offered host key for an error message
KILL_TIMEOUT = 2.0  # seconds to kill a timed-out command and close its channel
MAX_SESSIONS = 8  # concurrent commands per host; OpenSSH's MaxSessions defaults to 10
PID_MARKER = "launchdeck-pid:"
_PID_LINE = re.compile(re.escape(PID_MARKER) + r"(\d+)\n?")


FILE_TIMEOUT = 5.0  # s for a key or known_hosts file to be read (a hung network home must not hang us)


class RemoteError(LaunchdeckError):
    """An SSH failure, worded for the operator: `host (address:port): reason`."""
    title = "ssh"

    def __init__(self, host: HostConfig, reason: str, kind: str = "error") -> None:
        self.host = host.name
        self.reason = reason
        self.kind = kind  # unknown-host, changed-host-key, refused, timeout, auth, ...
        super().__init__(f"{host.name} ({_where(host)}): {reason}")


@dataclass(frozen=True)
class CompletedRun:
    """What a remote command left behind; exit_status is -1 when it died of a signal."""

    exit_status: int
    stdout: str
    stderr: str
    exit_signal: str | None = None


def _where(host: HostConfig) -> str:
    address = f"[{host.address}]" if ":" in host.address else host.address
    return f"{address}:{host.port}"


def _fingerprint(key: SSHKey) -> str:
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


def known_hosts_path(host: HostConfig) -> Path:
    """The known_hosts file this host is checked against (`~` expanded)."""
    return (host.known_hosts or DEFAULT_KNOWN_HOSTS).expanduser()


@dataclass
class _Seen:
    """What asyncssh matched in known_hosts for this connection attempt."""

    keys: tuple[Any, ...] = ()
    ca_keys: tuple[Any, ...] = ()
    revoked: tuple[Any, ...] = ()


async def connect(host: HostConfig) -> SSHClientConnection:
    """Open one verified connection; every failure becomes a RemoteError naming the host."""
    import asyncssh

    known_path = known_hosts_path(host)
    if not await run_blocking(known_path.is_file, timeout=FILE_TIMEOUT):
        raise RemoteError(host, f"no known_hosts file at {known_path}: refusing to connect "
                                "without host key verification", "no-known-hosts")
    try:
        known = await run_blocking(asyncssh.read_known_hosts, str(known_path), timeout=FILE_TIMEOUT)
    except (OSError, ValueError) as exc:
        raise RemoteError(host, f"cannot read known_hosts {known_path}: {exc}", "no-known-hosts") from None
    key = host.key.expanduser() if host.key else None
    if key is not None and not await run_blocking(key.is_file, timeout=FILE_TIMEOUT):
        raise RemoteError(host, f"key file {key} not found", "auth")
    seen = _Seen()

    def match(name: str, addr: str, port: int | None) -> tuple[Any, ...]:
        # Called by asyncssh with the exact name/address/port it checks; remembered for the error.
        keys, ca_keys, revoked, *_x509 = known.match(name, addr, port)
        seen.keys, seen.ca_keys, seen.revoked = tuple(keys), tuple(ca_keys), tuple(revoked)
        return keys, ca_keys, revoked  # X.509 entries are not trusted: stricter, never weaker

    try:
        return await asyncssh.connect(
            host.address, port=host.port, username=host.user, config=None, known_hosts=match,
            client_keys=[str(key)] if key else (), agent_path=None if key else (),
            connect_timeout=host.connect_timeout, keepalive_interval=host.keepalive,
            keepalive_count_max=KEEPALIVE_COUNT_MAX)
    except asyncssh.HostKeyNotVerifiable:
        raise await _host_key_error(host, known_path, seen) from None
    except asyncssh.KeyExchangeFailed as exc:
        if seen.keys:  # we offered only the known key types and the server has none of them
            raise await _host_key_error(host, known_path, seen) from None
        raise RemoteError(host, f"key exchange failed: {exc.reason}", "kex") from None
    except asyncssh.PermissionDenied:
        with_what = f" with key {key}" if key else " (no key configured; tried ~/.ssh/id_* and the agent)"
        raise RemoteError(host, f"permission denied (publickey) for user {host.user}{with_what}",
                          "auth") from None
    except asyncssh.KeyImportError as exc:
        why = "it is encrypted: load it into ssh-agent and leave `key` unset" \
            if "passphrase" in str(exc).lower() else str(exc)
        raise RemoteError(host, f"cannot use key {key}: {why}", "auth") from None
    except ValueError as exc:
        raise RemoteError(host, f"bad ssh settings: {exc}", "config") from None
    except asyncssh.Error as exc:
        raise RemoteError(host, f"ssh error: {exc.reason}", "ssh") from None
    except TimeoutError:  # before OSError: TimeoutError is one
        raise RemoteError(host, f"timed out after {host.connect_timeout:g}s", "timeout") from None
    except socket.gaierror as exc:
        raise RemoteError(host, f"cannot resolve {host.address}: {exc.strerror}", "resolve") from None
    except OSError as exc:
        raise RemoteError(host, *_os_reason(exc, key)) from None


def _os_reason(exc: OSError, key: Path | None) -> tuple[str, str]:
    if key is not None and exc.filename and Path(exc.filename) == key:
        return f"cannot read key {key}: {exc.strerror}", "auth"
    # asyncio reports "Connect call failed" per address, joined when all of them fail
    codes = {int(c) for c in re.findall(r"\[Errno (\d+)\]", str(exc))} or {exc.errno}
    if codes == {errno.ECONNREFUSED}:
        return "connection refused", "refused"
    return f"cannot connect: {exc.strerror or exc}", "network"


async def _host_key_error(host: HostConfig, known_path: Path, seen: _Seen) -> RemoteError:
    """Say UNKNOWN vs CHANGED (asyncssh raises the same error for both), with the offered key."""
    algs = list(dict.fromkeys(alg.decode() for k in seen.keys for alg in k.sig_algorithms))
    offered, why = await _offered_key(host, algs)
    if offered is None and algs:  # the server has no key of the known type: ask for any
        offered, why = await _offered_key(host, [])
    shown = _fingerprint(offered) if offered is not None else f"an unknown key ({why})"
    if offered is not None and offered in seen.revoked:
        return RemoteError(host, f"host key REVOKED: server offered {shown}, marked @revoked in "
                                 f"{known_path}; refusing", "revoked-host-key")
    if seen.keys or seen.ca_keys:
        has = ", ".join(dict.fromkeys(map(_fingerprint, seen.keys))) or "only a @cert-authority"
        return RemoteError(host, f"host key CHANGED: {known_path} has {has}, server offered {shown} "
                                 "— possible man-in-the-middle; refusing", "changed-host-key")
    return RemoteError(host, f"host key not verified: UNKNOWN host, offered {shown} — add it to "
                             f"{known_path} after checking it out of band", "unknown-host")


async def _offered_key(host: HostConfig, algs: list[str]) -> tuple[SSHKey | None, str]:
    """The server's host key, for the message only: this connection ends after key exchange."""
    import asyncssh

    try:
        async with asyncio.timeout(min(FINGERPRINT_TIMEOUT, host.connect_timeout)):
            key = await asyncssh.get_server_host_key(host.address, host.port, config=None,
                                                     server_host_key_algs=algs or ())
    except TimeoutError:
        return None, "timed out fetching it"
    except (asyncssh.Error, OSError, ValueError) as exc:
        return None, f"fetching it failed: {getattr(exc, 'reason', None) or exc}"
    return key, "" if key is not None else "server sent none"


@dataclass
class _Forward:
    conn: SSHClientConnection
    listener: SSHListener
    directory: Path | None  # a unix socket's private temp dir; None for a TCP port
    local: Path | int

    def close(self) -> None:
        self.listener.close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


class Connections:
    """Shared connections keyed by host name; reconnects when one was lost or the config changed."""

    def __init__(self) -> None:
        self._conns: dict[str, tuple[HostConfig, SSHClientConnection]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._sessions: dict[str, asyncio.Semaphore] = {}
        self._forwards: dict[tuple[str, str], _Forward] = {}
        self._forward_locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def __aenter__(self) -> Connections:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def get(self, host: HostConfig) -> SSHClientConnection:
        """The live connection to `host`; concurrent callers share one connect attempt."""
        async with self._locks.setdefault(host.name, asyncio.Lock()):
            current = self._conns.get(host.name)
            if current is not None:
                config, conn = current
                if config == host and not conn.is_closed():
                    return conn
                self._drop(host.name)
            conn = await connect(host)
            self._conns[host.name] = (host, conn)
            return conn

    def _discard(self, name: str, conn: SSHClientConnection) -> None:
        current = self._conns.get(name)
        if current is not None and current[1] is conn:
            self._drop(name)

    def _drop(self, name: str) -> None:
        for key in [k for k in self._forwards if k[0] == name]:
            self._forwards.pop(key).close()
        _config, conn = self._conns.pop(name)
        conn.close()

    async def run(self, host: HostConfig, argv: list[str], timeout: float,
                  input: str | None = None) -> CompletedRun:
        """Run argv (shell-quoted, so values stay literal) on the host; TimeoutError kills it.

        `timeout` bounds opening the session and the command; connecting is bounded by the host's
        connect_timeout instead, so a short poll timeout cannot starve a slow first handshake.
        """
        import asyncssh

        if not argv:
            raise ValueError("run() needs a command: argv is empty")
        command = f"echo {PID_MARKER}$$; {shlex.join(argv)}"
        async with self._sessions.setdefault(host.name, asyncio.Semaphore(MAX_SESSIONS)):
            conn = await self.get(host)
            proc, pid = None, None
            try:
                async with asyncio.timeout(timeout):
                    conn, proc = await self._start(host, conn, command, input)
                    pid, before = await _read_pid(proc)
                    stdout, stderr = await proc.communicate()
            except TimeoutError:
                if proc is None:
                    raise TimeoutError(f"{host.name}: no session for `{argv[0]}` within {timeout:g}s") from None
                outcome = await _kill(conn, proc, pid)
                raise TimeoutError(f"{host.name}: `{argv[0]}` still running after {timeout:g}s; "
                                   f"{outcome}") from None
            except asyncio.CancelledError:
                # the caller gave up (the app quit, an outer timeout): the command must not run on
                # for hours on the host, so kill its group as a timeout would, then let the cancel go on
                if proc is not None:
                    await asyncio.shield(_kill(conn, proc, pid))
                raise
            except (asyncssh.Error, OSError) as exc:
                if proc is not None:
                    proc.close()
                raise RemoteError(host, f"connection lost while running `{argv[0]}`: "
                                        f"{getattr(exc, 'reason', None) or exc}", "lost") from None
        if proc.exit_status is None and proc.exit_signal is None:
            raise RemoteError(host, f"`{argv[0]}` ended without an exit status (connection lost?)", "lost")
        signal = proc.exit_signal[0] if proc.exit_signal else None
        status = proc.exit_status if proc.exit_status is not None else -1
        return CompletedRun(status, before + (stdout or ""), stderr or "", signal)

    async def session(self, host: HostConfig, argv: list[str], timeout: float) -> Session:
        """Start argv (shell-quoted) as a long-running command to talk to line by line.

        Why: every exec request starts the user's login shell, and bash run by sshd reads ~/.bashrc
        (on this project's test VM, pyenv's init: ~170 ms of CPU). A command asked every refresh
        pays that once per connection this way, not once per refresh."""
        if not argv:
            raise ValueError("session() needs a command: argv is empty")
        command = f"echo {PID_MARKER}$$; {shlex.join(argv)}"
        conn = await self.get(host)
        proc = None
        try:
            async with asyncio.timeout(timeout):
                conn, proc = await self._start(host, conn, command, None, pipe=True)
                pid, _before = await _read_pid(proc)
        except TimeoutError:
            if proc is not None:
                proc.close()
            raise TimeoutError(f"{host.name}: `{argv[0]}` did not start within {timeout:g}s") from None
        if pid is None:
            proc.close()
            raise RemoteError(host, f"`{argv[0]}`: the session ended before it started", "session")
        return Session(host, conn, proc, pid)

    async def _start(self, host: HostConfig, conn: Any, command: str, input: str | None,
                     pipe: bool = False) -> tuple[Any, Any]:
        """Open the session; a connection found dead at this point is reopened once."""
        import asyncssh

        stdin = {} if pipe else {"input": input} if input else {"stdin": asyncssh.DEVNULL}
        try:
            return conn, await conn.create_process(command, encoding="utf-8", errors="replace", **stdin)
        except (asyncssh.Error, OSError) as exc:
            if not _connection_gone(conn, exc):
                raise RemoteError(host, f"cannot start a command: {getattr(exc, 'reason', None) or exc}",
                                  "session") from None
        self._discard(host.name, conn)
        conn = await self.get(host)
        try:
            return conn, await conn.create_process(command, encoding="utf-8", errors="replace", **stdin)
        except (asyncssh.Error, OSError) as exc:
            raise RemoteError(host, f"cannot start a command: {getattr(exc, 'reason', None) or exc}",
                              "session") from None

    def _live_forward(self, key: tuple[str, str], conn: SSHClientConnection) -> _Forward | None:
        """The forward under `key` if it still rides `conn`; a stale one is closed and forgotten."""
        forward = self._forwards.get(key)
        if forward is not None and forward.conn is conn and not conn.is_closed():
            return forward
        if forward is not None:
            self._forwards.pop(key).close()
        return None

    async def forward_unix_socket(self, host: HostConfig, remote_path: str = "/var/run/docker.sock") -> Path:
        """A local unix socket (in a private 0700 temp dir) that reaches `remote_path` on the host."""
        import asyncssh

        key = (host.name, remote_path)
        async with self._forward_locks.setdefault(key, asyncio.Lock()):
            conn = await self.get(host)
            if (forward := self._live_forward(key, conn)) is not None:
                return Path(forward.local)
            try:  # fail here, clearly, rather than as a reset inside the docker SDK later
                _reader, writer = await conn.open_unix_connection(remote_path)
                writer.close()
            except asyncssh.ChannelOpenError as exc:
                raise RemoteError(host, f"cannot reach {remote_path} on the host: {exc.reason}",
                                  "forward") from None
            directory = Path(tempfile.mkdtemp(prefix="launchdeck-ssh-"))  # mode 0700
            local = directory / (Path(remote_path).name or "socket")
            try:
                listener = await conn.forward_local_path(str(local), remote_path)
            except (asyncssh.Error, OSError) as exc:
                shutil.rmtree(directory, ignore_errors=True)
                raise RemoteError(host, f"cannot forward {remote_path}: "
                                        f"{getattr(exc, 'reason', None) or exc}", "forward") from None
            self._forwards[key] = _Forward(conn, listener, directory, local)
            return local

    async def forward_tcp(self, host: HostConfig, dest_host: str, dest_port: int) -> int:
        """A loopback port here that reaches dest_host:dest_port as the host sees it (a database
        listening on the host's localhost, say). The port is bound to 127.0.0.1 only."""
        import asyncssh

        key = (host.name, f"tcp:{dest_host}:{dest_port}")
        async with self._forward_locks.setdefault(key, asyncio.Lock()):
            conn = await self.get(host)
            if (forward := self._live_forward(key, conn)) is not None:
                return int(forward.local)
            try:
                listener = await conn.forward_local_port("127.0.0.1", 0, dest_host, dest_port)
            except (asyncssh.Error, OSError) as exc:
                raise RemoteError(host, f"cannot forward to {dest_host}:{dest_port}: "
                                        f"{getattr(exc, 'reason', None) or exc}", "forward") from None
            self._forwards[key] = _Forward(conn, listener, None, listener.get_port())
            return listener.get_port()

    async def close(self) -> None:
        """Close every forward and connection (and remove the forwards' temp dirs)."""
        conns = [conn for _config, conn in self._conns.values()]
        for name in list(self._conns):
            self._drop(name)
        for conn in conns:
            try:
                async with asyncio.timeout(KILL_TIMEOUT):
                    await conn.wait_closed()
            except TimeoutError:
                conn.abort()


class Session:
    """A long-running command on a host: ask() writes one line and reads until an end line; close()
    kills its process group (OpenSSH would not end it when the channel closes)."""

    def __init__(self, host: HostConfig, conn: Any, proc: Any, pid: int) -> None:
        self.host, self.conn, self.proc, self.pid = host, conn, proc, pid

    @property
    def closed(self) -> bool:
        return self.conn.is_closed() or self.proc.exit_status is not None or self.proc.exit_signal is not None

    async def ask(self, line: str, end: str, timeout: float) -> str:
        """The lines the command printed for `line`, up to (without) the `end` line. Any failure
        (a timeout, the command or connection gone) closes the session: its output is out of step."""
        import asyncssh

        if "\n" in line:
            raise ValueError("ask() sends one line: no newline inside it")
        answer: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                self.proc.stdin.write(line + "\n")
                while (got := await self.proc.stdout.readline()) != f"{end}\n":
                    if not got:
                        raise RemoteError(self.host, "the session ended (command or connection gone)", "lost")
                    answer.append(got)
        except BaseException as error:
            await asyncio.shield(self.close())
            if isinstance(error, (asyncssh.Error, OSError)):
                raise RemoteError(self.host, f"session lost: {getattr(error, 'reason', None) or error}", "lost") from None
            raise
        return "".join(answer)

    async def close(self) -> None:
        if not self.closed:
            await _kill(self.conn, self.proc, self.pid)


def _connection_gone(conn: Any, exc: BaseException) -> bool:
    """True when a session failed because the connection died (is_closed() lags a loop turn)."""
    import asyncssh

    return conn.is_closed() or isinstance(exc, (asyncssh.ConnectionLost, ConnectionError)) or (
        isinstance(exc, asyncssh.ChannelOpenError) and exc.reason == "SSH connection closed")


async def _read_pid(proc: Any) -> tuple[int | None, str]:
    """The pid our prefix printed, and anything the remote shell's rc files printed before it."""
    before: list[str] = []
    while line := await proc.stdout.readline():
        found = _PID_LINE.fullmatch(line)
        if found:
            return int(found[1]), "".join(before)
        before.append(line)
    return None, "".join(before)


async def _kill(conn: Any, proc: Any, pid: int | None) -> str:
    """Kill a timed-out command's process group (the shell is a session leader under sshd)."""
    import asyncssh

    outcome = "killed"
    if conn.is_closed():
        return "connection lost"
    proc.send_signal("KILL")  # servers that honour the signal request stop it here already
    if pid is None:
        outcome = "could not learn its pid: closed the channel only"
    else:
        try:
            async with asyncio.timeout(KILL_TIMEOUT):
                await conn.run(f"kill -9 -{pid} 2>/dev/null || kill -9 {pid}",  # dash: no `--`
                               stdin=asyncssh.DEVNULL, check=False)
        except TimeoutError:
            outcome = "kill timed out: closed the channel"
        except (asyncssh.Error, OSError) as exc:
            outcome = f"kill failed ({getattr(exc, 'reason', None) or exc}): closed the channel"
    proc.close()
    try:
        async with asyncio.timeout(KILL_TIMEOUT):
            await proc.wait_closed()
    except TimeoutError:
        proc.channel.abort()
    return outcome
