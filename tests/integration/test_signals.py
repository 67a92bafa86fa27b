"""Every way the dashboard's terminal or process is taken away ends it cleanly: within 2 s no launchdeck,
no process it started (Prometheus, a command probe's process group), no temp dir, and a terminal
left as it was found (no alternate screen, no mouse tracking). Real processes, a real tmux, real ptys.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from launchdeck.core.pool import DEFAULT_MAX_THREADS
from launchdeck.tui.terminal_watch import TerminalWatch, terminal_fds

pytestmark = pytest.mark.integration

LAUNCHER = Path(sys.executable).with_name("launchdeck")

# Like make, or a supervisor script: it ignores a hang-up and does not pass it on, and runs its child as
# a shell's job control would (its own process group, in the terminal's foreground), so neither the
# kernel's hang-up (sent to the session leader: this wrapper) nor tmux's (to the wrapper's group) reaches
# launchdeck. Its child inherits SIGHUP ignored, as under make.
WRAPPER = """
import os, signal, subprocess, sys
signal.signal(signal.SIGHUP, signal.SIG_IGN)
def foreground():
    os.setpgid(0, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.tcsetpgrp(0, os.getpid())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
child = subprocess.Popen(sys.argv[1:], preexec_fn=foreground)
while True:
    try:
        sys.exit(child.wait())
    except KeyboardInterrupt:
        pass
"""


# ---------------------------------------------------------------- processes, from /proc
def _stat(pid: int) -> list[str] | None:
    """Fields after the command name (state is [0], ppid [1], pgid [2]); None once gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return None if fields[0] in "ZX" else fields


def alive(pid: int) -> bool:
    return _stat(pid) is not None


def processes() -> dict[int, list[str]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            found[int(entry)] = fields
    return found


def descendants(pid: int) -> set[int]:
    table = processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, fields in table.items() if int(fields[1]) in frontier} - found
        found |= frontier
    return found


def in_groups(groups: set[int]) -> set[int]:
    return {p for p, fields in processes().items() if int(fields[2]) in groups}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for(condition, within: float, what) -> float:
    """Seconds until condition() held; fails with what() past `within`."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < within, what()
        time.sleep(0.02)
    return time.monotonic() - began


# ---------------------------------------------------------------- tmux
@pytest.fixture
def own_tmp(tmp_path):
    """launchdeck's temp dirs land here (TMPDIR), so the test sees them made and removed."""
    path = tmp_path / "tmp"
    path.mkdir()
    return path


class Started:
    """The launchdeck pids and the command probes' process groups a test started."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.groups: set[int] = set()

    def append(self, pid: int) -> None:
        self.pids.append(pid)


@pytest.fixture
def started():
    """Whatever a test started and is still running at its end (a failed test) is killed: ours only."""
    ours = Started()
    yield ours
    for pid in ours.pids:
        for member in {pid, *descendants(pid)}:
            if alive(member):
                os.kill(member, signal.SIGKILL)
    for group in ours.groups:
        if in_groups({group}):
            os.killpg(group, signal.SIGKILL)


def pane(tmux, session: str, fmt: str) -> str:
    return subprocess.run([*tmux, "display-message", "-p", "-t", session, fmt], capture_output=True,
                          text=True, check=True).stdout.strip()


def screen(tmux, session: str) -> str:
    return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=False).stdout


def launchdeck_under(parent: int) -> int:
    """The launchdeck process started by the pane's process (a wrapper or a shell)."""
    pid = 0

    def found() -> bool:
        nonlocal pid
        pid = next((p for p in descendants(parent) if "bin/launchdeck" in cmdline(p)), 0)
        return bool(pid)

    wait_for(found, 10, lambda: f"no launchdeck under pid {parent}")
    return pid


def start_through_wrapper(tmux, tmp_path, own_tmp, session: str, *args: str) -> int:
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", "-s", session,
                    f"TMPDIR={own_tmp} exec {sys.executable} {wrapper} {LAUNCHER} {' '.join(args)}"], check=True)
    return launchdeck_under(int(pane(tmux, session, "#{pane_pid}")))


def wait_for_dashboard(tmux, session: str, within: float = 30) -> None:
    wait_for(lambda: re.search(r"● ok\s+web", screen(tmux, session)) and pane(tmux, session, "#{alternate_on}") == "1",
             within, lambda: f"no dashboard within {within} s:\n{screen(tmux, session)}")


# ---------------------------------------------------------------- the watch itself, on a bare pty
def test_the_watch_sleeps_on_a_live_terminal_and_wakes_when_it_is_hung_up():
    master, slave = os.openpty()
    gone = threading.Event()
    watch = TerminalWatch(on_gone=gone.set, fds=[slave]).start()
    try:
        os.write(slave, b"output\r\n")  # a live terminal: writes and reads do not wake the watch
        os.write(master, b"typed\n")
        assert os.read(master, 100)
        assert not gone.wait(0.3)
        os.close(master)  # the other side goes away: a hang-up, and no signal to anyone
        assert gone.wait(1.0), "the hang-up was not noticed within 1 s"
        # the dead terminal was replaced by /dev/null: writes no longer fail with EIO, reads see EOF
        assert os.fstat(slave).st_rdev == os.stat(os.devnull).st_rdev
        assert os.write(slave, b"left behind") == 11 and os.read(slave, 10) == b""
    finally:
        watch.stop()
        os.close(slave)


def test_a_terminal_already_gone_when_the_watch_starts_is_noticed_at_once():
    """The demo can take seconds to start (Prometheus): the terminal may be gone before the watch is."""
    master, slave = os.openpty()
    os.close(master)
    assert not os.isatty(slave)  # a hung-up terminal answers no ioctl: isatty() alone would miss it
    gone = threading.Event()
    watch = TerminalWatch(on_gone=gone.set, fds=terminal_fds([slave])).start()
    try:
        assert gone.wait(1.0)
    finally:
        watch.stop()
        os.close(slave)
    pipe_read, pipe_write = os.pipe()
    os.close(pipe_write)  # a pipe at end-of-file reports a hang-up too, but it is no terminal
    assert terminal_fds([pipe_read]) == []
    os.close(pipe_read)


def test_a_stopped_watch_ends_its_thread_and_never_calls_back():
    master, slave = os.openpty()
    called = threading.Event()
    watch = TerminalWatch(on_gone=called.set, fds=[slave]).start()
    watch.stop()
    watch.stop()
    assert not watch._thread.is_alive()
    os.close(master)
    assert not called.wait(0.3)
    # not replaced by /dev/null: the app had already given the terminal back
    assert os.fstat(slave).st_rdev != os.stat(os.devnull).st_rdev
    os.close(slave)


# ---------------------------------------------------------------- a terminal gone without SIGHUP
@pytest.mark.parametrize("args", [("demo",), ("demo", "--prometheus"), ("demo", "--prometheus", "--no-tui")],
                         ids=["demo", "demo-prometheus", "demo-prometheus-no-tui"])
def test_a_terminal_gone_without_a_hang_up_ends_launchdeck_and_everything_it_started(
        tmux, tmp_path, own_tmp, started, args):
    """Through a wrapper that does not forward SIGHUP, the tmux session is killed: before the watch,
    launchdeck spun on end-of-file and blocked on its writer for good. Now: gone within 2 s with every
    child (Prometheus) and its temp dir."""
    demo = start_through_wrapper(tmux, tmp_path, own_tmp, "gone", *args)
    started.append(demo)
    if "--no-tui" in args:  # the stack alone, printing its addresses: the terminal is watched all the same
        wait_for(lambda: "demo stack running" in screen(tmux, "gone"), 30, lambda: screen(tmux, "gone"))
    else:
        wait_for_dashboard(tmux, "gone")
    children = descendants(demo)
    if "--prometheus" in args:
        assert any("prometheus" in cmdline(p) for p in children), [cmdline(p) for p in children]
    assert list(own_tmp.iterdir()), "the demo's temp dir exists while it runs"

    subprocess.run([*tmux, "kill-session", "-t", "gone"], check=True)
    took = wait_for(lambda: not alive(demo) and not any(alive(p) for p in children) and not list(own_tmp.iterdir()),
                    2.0, lambda: (f"2 s after the terminal went: launchdeck running={alive(demo)}, "
                                  f"children left={[cmdline(p) for p in children if alive(p)]}, "
                                  f"files left={list(own_tmp.iterdir())}"))
    print(f"terminal gone -> {' '.join(args)} and its children gone in {took:.2f} s")


@pytest.mark.parametrize("how", ["terminal-gone", "sigterm", "sighup"])
def test_a_command_probes_process_group_ends_with_the_dashboard(tmux, tmp_path, own_tmp, started, how):
    """A command probe's child and grandchild (its own process group) do not outlive the dashboard,
    however it is ended (a stop signal's exit once skipped the app's unmount, and with it the engine's stop)."""
    marker = f"{uuid.uuid4().int % 1000}.{os.getpid()}"  # a unique sleep length, to know our sleeps
    config = tmp_path / "launchdeck.toml"
    config.write_text('[deck]\nname = "signals"\nrefresh = "1s"\n'
                      '[[services]]\nname = "slow"\nkind = "command"\ntimeout = "5m"\n'
                      f'argv = ["sh", "-c", "sleep {marker} & sleep {marker}"]\n')
    launchdeck = start_through_wrapper(tmux, tmp_path, own_tmp, "cmd", "--config", str(config))
    started.append(launchdeck)
    sleeps: set[int] = set()

    def both_sleeping() -> bool:
        sleeps.update(p for p in descendants(launchdeck) if f"sleep {marker}" in cmdline(p))
        return len(sleeps) >= 2

    wait_for(both_sleeping, 20, lambda: f"the command probe's sleeps did not start: {screen(tmux, 'cmd')}")
    groups = {int(processes()[p][2]) for p in sleeps}
    started.groups |= groups
    assert launchdeck not in groups, "the probe's command runs in a process group of its own"

    if how == "terminal-gone":
        subprocess.run([*tmux, "kill-session", "-t", "cmd"], check=True)
    else:
        os.kill(launchdeck, signal.SIGTERM if how == "sigterm" else signal.SIGHUP)
    took = wait_for(lambda: not alive(launchdeck) and not in_groups(groups), 2.0,
                    lambda: f"left: launchdeck={alive(launchdeck)}, group members={in_groups(groups)}")
    print(f"{how} -> dashboard and its command's process group gone in {took:.2f} s")


# ---------------------------------------------------------------- SIGTERM and demo --prometheus
def test_sigterm_to_demo_prometheus_leaves_no_prometheus_no_temp_dir_and_a_restored_terminal(
        tmux, own_tmp, started):
    # the shell stays after launchdeck ends, so the pane shows what launchdeck left the terminal in
    subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", "-s", "term",
                    f"TMPDIR={own_tmp} {LAUNCHER} demo --prometheus; sleep 60"], check=True)
    demo = launchdeck_under(int(pane(tmux, "term", "#{pane_pid}")))
    started.append(demo)
    wait_for_dashboard(tmux, "term")
    prometheus = [p for p in descendants(demo) if "prometheus" in cmdline(p)]
    assert len(prometheus) == 1, [cmdline(p) for p in descendants(demo)]
    workdir = next(own_tmp.glob("launchdeck-demo-*"))
    assert (workdir / "tsdb").is_dir() and str(workdir) in cmdline(prometheus[0])
    assert pane(tmux, "term", "#{alternate_on} #{mouse_any_flag}") == "1 1"

    os.kill(demo, signal.SIGTERM)
    took = wait_for(lambda: not alive(demo) and not alive(prometheus[0]), 2.0,
                    lambda: f"2 s after SIGTERM: launchdeck={alive(demo)}, prometheus={alive(prometheus[0])}")
    assert not workdir.exists() and list(own_tmp.iterdir()) == []
    assert pane(tmux, "term", "#{alternate_on} #{mouse_any_flag} #{mouse_all_flag}") == "0 0 0"
    assert "Traceback" not in screen(tmux, "term")
    print(f"SIGTERM -> demo and prometheus gone in {took:.2f} s")


# ---------------------------------------------------------------- quitting while the ledger is stuck
def test_q_quits_at_once_while_every_ledger_write_is_stuck(tmux, tmp_path, started):
    """Another process holds the ledger's lock: each sign-off's append waits in flock(2) on launchdeck's
    pool until every pool thread is stuck. `q` still quits within 1 s, and the engine is still stopped
    (its command probe's process group ended), because stopping it needs no pool thread."""
    items = [f"Step {n}" for n in range(1, 11)]
    (tmp_path / "launch.md").write_text("# Launch\n## Day\n" + "".join(f"- [ ] {item}\n" for item in items))
    marker = f"{uuid.uuid4().int % 1000}.{os.getpid()}"
    config = tmp_path / "launchdeck.toml"
    config.write_text('[deck]\nname = "stuck"\nrefresh = "1s"\n'
                      '[[services]]\nname = "slow"\nkind = "command"\ntimeout = "5m"\n'
                      f'argv = ["sh", "-c", "sleep {marker}"]\n'
                      '[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n')
    ledger = tmp_path / "signoff.jsonl"
    locker = subprocess.Popen(["flock", "--exclusive", str(ledger), "sleep", "120"])
    try:
        wait_for(ledger.exists, 5, lambda: "flock did not create the ledger")
        subprocess.run([*tmux, "new-session", "-d", "-x", "100", "-y", "30", "-s", "stuck",
                        f"{LAUNCHER} --config {config}; sleep 60"], check=True)
        launchdeck = launchdeck_under(int(pane(tmux, "stuck", "#{pane_pid}")))
        started.append(launchdeck)
        sleeps: set[int] = set()

        def sleeping() -> bool:
            sleeps.update(p for p in descendants(launchdeck) if f"sleep {marker}" in cmdline(p))
            return bool(sleeps)

        wait_for(sleeping, 20, lambda: f"the command probe did not start: {screen(tmux, 'stuck')}")
        groups = {int(processes()[p][2]) for p in sleeps}
        started.groups |= groups
        subprocess.run([*tmux, "send-keys", "-t", "stuck", "c"], check=True)
        wait_for(lambda: "Step 1" in screen(tmux, "stuck"), 10, lambda: screen(tmux, "stuck"))
        for _ in items:  # sign every item: each append blocks on the lock, one pool thread each
            subprocess.run([*tmux, "send-keys", "-t", "stuck", "space"], check=True)
            wait_for(lambda: "note (optional)" in screen(tmux, "stuck"), 5, lambda: screen(tmux, "stuck"))
            subprocess.run([*tmux, "send-keys", "-t", "stuck", "Enter"], check=True)
            wait_for(lambda: "note (optional)" not in screen(tmux, "stuck"), 5, lambda: screen(tmux, "stuck"))
            subprocess.run([*tmux, "send-keys", "-t", "stuck", "Down"], check=True)

        def waits() -> list[str]:
            return [(t / "wchan").read_text() for t in Path(f"/proc/{launchdeck}/task").iterdir()]

        wait_for(lambda: waits().count("locks_lock_inode_wait") >= DEFAULT_MAX_THREADS, 5,  # flock(2) waits there
                 lambda: f"threads' waits: {waits()}\n{screen(tmux, 'stuck')}")
        assert ledger.read_bytes() == b"", "nothing could be written while the lock is held"

        subprocess.run([*tmux, "send-keys", "-t", "stuck", "q"], check=True)
        took = wait_for(lambda: not alive(launchdeck) and not in_groups(groups), 1.0,
                        lambda: f"1 s after q: launchdeck={alive(launchdeck)}, command group={in_groups(groups)}")
        assert pane(tmux, "stuck", "#{alternate_on} #{mouse_any_flag}") == "0 0"
        print(f"q with every pool thread stuck in flock -> gone in {took:.2f} s")
    finally:
        locker.kill()
        locker.wait()
