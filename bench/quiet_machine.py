"""Is the machine quiet enough to measure on, and what else ran meanwhile: a pytest, a `launchdeck demo`,
another run of this bench or any busy process skews every number, so the bench waits for quiet, watches
while it measures, and lists what it left running. Reads /proc (Linux)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

QUIET_PATTERNS = ("pytest", "launchdeck demo", "many_targets.py")  # other work that skews every number:
# wait until none runs (another run of this bench, not its idle loopback server, counts too). pgrep -f
# finds them; a match must be the program itself, not a path: a Prometheus a test left running with
# --config.file=/tmp/pytest-of-root/... is not a pytest
QUIET_PROGRAM = re.compile(r"(^|[\s/])(pytest|py\.test)(\s|$)|launchdeck demo|many_targets\.py")
TICKS = os.sysconf("SC_CLK_TCK")


def busy_processes(window: float = 1.0, floor: float = 10.0) -> list[str]:
    """Other processes using more than `floor` % of a core: a shared machine skews every number here."""
    def sample() -> dict[int, tuple[float, str]]:
        found = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                found[int(entry)] = ((int(fields[11]) + int(fields[12])) / TICKS, cmd.strip()[:100])
        return found

    before = sample()
    time.sleep(window)
    after = sample()
    busy = [(100 * (cpu - before[pid][0]) / window, cmd) for pid, (cpu, cmd) in after.items() if pid in before]
    return [f"{pct:.0f}% {cmd}" for pct, cmd in sorted(busy, reverse=True) if pct > floor]


def cpu_seconds(pid: int | str) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def ancestors() -> set[int]:
    """This process and the ones it runs under (a `timeout 300 python bench/many_targets.py` is no
    other bench run)."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def others_running() -> dict[str, list[str]]:
    """`pgrep -f` for each of QUIET_PATTERNS. A tmux server keeps the argv of the command that started
    it ("tmux new -d ... launchdeck demo") long after the demo ended: tmux itself is listed apart."""
    found: dict[str, list[str]] = {"running": [], "ignored": []}
    mine = {int(line.split()[0]) for line in descendants(os.getpid())} | ancestors()
    for pattern in QUIET_PATTERNS:
        out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
        for pid in out:
            if int(pid) in mine:
                continue
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue  # gone meanwhile
            line = f"{pid} {cmd.strip()[:120]}"
            if line in found["running"] or line in found["ignored"]:
                continue
            # a tmux server keeps its first client's argv; a bench's own server is idle; a path is no program
            idle = comm.startswith("tmux") or "--serve" in cmd or not QUIET_PROGRAM.search(cmd)
            found["ignored" if idle else "running"].append(line)
    return found


HOG = 50.0  # % of a core: another process this busy (a test container's `yes > /dev/null`) is no quiet machine


def wait_until_quiet(limit: float, every: float = 10.0) -> dict:
    """Poll every `every` s until no pytest, no `launchdeck demo`, no other run of this bench runs and
    no other process takes more than HOG % of a core; after `limit` s, go anyway (and say so)."""
    started = time.monotonic()
    polls = 0
    while True:
        polls += 1
        found = others_running()
        if not found["running"]:  # the processes this one runs under wait for it: never busy meanwhile
            found["running"] = [f"busy: {line}" for line in busy_processes(floor=HOG)]
        if not found["running"]:
            return {"waited_s": round(time.monotonic() - started, 1), "polls": polls, "gave_up": False,
                    "ignored": found["ignored"]}
        if time.monotonic() - started >= limit:
            return {"waited_s": round(time.monotonic() - started, 1), "polls": polls, "gave_up": True,
                    "still_running": found["running"], "ignored": found["ignored"],
                    "note": f"gave up waiting after {limit:g} s: measured with the above running"}
        print(f"  waiting for a quiet machine ({round(time.monotonic() - started)} s): {found['running'][:3]}",
              file=sys.stderr, flush=True)
        time.sleep(every)


def cpu_by_process() -> dict[int, tuple[float, str]]:
    """CPU seconds so far and the command line of every process on the machine."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found[int(entry)] = ((int(fields[11]) + int(fields[12])) / TICKS, cmd.strip()[:100])
    return found


class Watchman(threading.Thread):
    """While the bench measures, every few seconds: pytest / `launchdeck demo` / another bench run
    (QUIET_PATTERNS), and the CPU every process outside this bench's tree used meanwhile (a pytest
    waiting on a hung test costs nothing; a running suite or another dashboard skews the numbers)."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.started, self.seen = every, time.monotonic(), []
        self.stopped = threading.Event()
        self.cpu = cpu_by_process()
        self.used: dict[str, float] = {}

    def sample(self) -> None:
        now = cpu_by_process()
        mine = {int(line.split()[0]) for line in descendants(os.getpid())} | {os.getpid()}
        for pid, (cpu, cmd) in now.items():
            if pid not in mine:
                spent = cpu - self.cpu.get(pid, (0.0, ""))[0]
                if spent > 0:
                    self.used[cmd] = self.used.get(cmd, 0.0) + spent
        self.cpu = now

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.sample()
            found = others_running()["running"]
            if found:
                self.seen.append({"at_s": round(time.monotonic() - self.started, 1), "running": found[:5]})

    def stop(self) -> dict:
        self.stopped.set()
        self.join(timeout=10)
        self.sample()
        seconds = time.monotonic() - self.started
        top = sorted(self.used.items(), key=lambda item: -item[1])
        return {"sightings": self.seen, "seconds_measured": round(seconds, 1),
                "others_cpu_s": round(sum(self.used.values()), 1),
                "others_cpu_share_of_machine": round(sum(self.used.values()) / (seconds * (os.cpu_count() or 1)), 3),
                "others_top_cpu_s": {cmd: round(cpu, 1) for cmd, cpu in top[:8] if cpu >= 0.5}}


def descendants(root: int) -> list[str]:
    """Processes still alive below `root` (this bench), each as "pid cmdline"."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                commands[int(entry)] = (Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                                        .decode(errors="replace").strip()[:160])
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = []
    for pid in parents:
        walk, seen = parents.get(pid), 0
        while walk and walk != root and seen < 64:
            walk, seen = parents.get(walk), seen + 1
        if walk == root:
            found.append(f"{pid} {commands.get(pid, '?')}")
    return found


def leftovers(tmp: str) -> dict:
    """What this bench started and is still alive: its descendants (multiprocessing's resource
    tracker, which ends with this process, is expected), and any process naming the bench's temp
    directory (a dashboard outside this process tree, in its own session)."""
    mine = descendants(os.getpid())
    named = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if tmp in cmd:
                named.append(f"{entry} {cmd.strip()[:160]}")
    unexpected = [line for line in mine if "resource_tracker" not in line and "pgrep" not in line]
    return {"descendants": mine, "naming_temp_dir": named, "unexpected": unexpected + named}
