"""What the containers probe knows apart from its threads: the docker CLI's math, the status rules,
the wording of engine errors, and engine-shaped stats samples read from cgroup files.

The numbers are the CLI's own (cli/command/container/stats_helpers.go), so `docker stats` beside
the dashboard shows the same: CPU % = (container cpu delta / system cpu delta) x online CPUs x 100
between two samples (100 % = one core; 0 when a delta is not positive; online_cpus missing ->
len(percpu_usage)); memory = usage minus `total_inactive_file` (cgroup v1) or `inactive_file` (v2)
when smaller than usage; memory % = memory / limit x 100.

Status rules (worst wins; the reason lists the worst first):
- crit: unhealthy; restarting or dead; exited non-zero or OOM-killed; exited 0 although the restart
  policy is always / unless-stopped (stopped by hand, or the engine gave up); CPU or memory >= crit.
- warn: CPU or memory >= warn; health starting; restarted since launch start (the probe's first
  sight); paused (serves nothing, on purpose); created and never started; being removed.
- unknown: running but its stats did not arrive, and nothing worse holds.
- ok: the rest, including exited 0 with restart policy no / on-failure: a finished job (migration,
  one-off task) is the expected end state, and flagging it would teach people to ignore the panel.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from launchdeck.core.config import ContainersConfig
from launchdeck.core.model import Status
from launchdeck.core.units import format_duration


def cpu_percent(cpu: Mapping[str, Any] | None, previous: Mapping[str, Any] | None) -> float | None:
    """CPU % between two `cpu_stats` samples, exactly as `docker stats` computes it.

    None when there is no usable previous sample (first sight, or the counter went backwards
    because the container restarted in between): an honest "not measured yet", not a 0.
    """
    if not cpu or not previous:
        return None
    usage, before = cpu.get("cpu_usage") or {}, previous.get("cpu_usage") or {}
    if "total_usage" not in usage or "total_usage" not in before or not previous.get("system_cpu_usage"):
        return None  # a one-shot sample's precpu_stats is all zeros: no previous sample at all
    cpu_delta = float(usage["total_usage"]) - float(before["total_usage"])
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(previous.get("system_cpu_usage") or 0)
    if cpu_delta < 0:
        return None
    online = float(cpu.get("online_cpus") or 0) or float(len(usage.get("percpu_usage") or ()))
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_used(memory: Mapping[str, Any] | None) -> int | None:
    """Bytes in use without the inactive file cache (cgroup v1 and v2 field names), as the CLI shows."""
    if not memory or "usage" not in memory:
        return None
    usage = int(memory["usage"])
    stats = memory.get("stats") or {}
    if "total_inactive_file" in stats and int(stats["total_inactive_file"]) < usage:  # cgroup v1
        return usage - int(stats["total_inactive_file"])
    if int(stats.get("inactive_file", usage)) < usage:  # cgroup v2
        return usage - int(stats["inactive_file"])
    return usage


def memory_percent(used: int | None, limit: int | None) -> float | None:
    if used is None or not limit:
        return None
    return used / limit * 100.0


def network_bytes(sample: Mapping[str, Any]) -> tuple[int, int]:
    """(rx, tx) summed over every interface; a container without networks has moved 0 bytes."""
    networks = sample.get("networks") or {}
    return (sum(int(n.get("rx_bytes", 0)) for n in networks.values()),
            sum(int(n.get("tx_bytes", 0)) for n in networks.values()))


def health_from_status(text: str) -> str:
    """The health word from `docker ps`' Status column: "Up 2 minutes (healthy)" -> "healthy"."""
    if "(unhealthy)" in text:
        return "unhealthy"
    if "(healthy)" in text:
        return "healthy"
    if "(health: starting)" in text:
        return "starting"
    return "none"


def last_health_output(inspect: Mapping[str, Any]) -> str:
    """The last non-empty line the most recent healthcheck printed, or how it exited."""
    log = ((inspect.get("State") or {}).get("Health") or {}).get("Log") or []
    if not log:
        return ""
    last = log[-1]
    lines = [line.strip() for line in str(last.get("Output") or "").splitlines() if line.strip()]
    if lines:
        return lines[-1][:200]
    return f"healthcheck exited {last.get('ExitCode')}"


def parse_docker_time(text: str | None) -> datetime | None:
    """Docker's RFC 3339 with nanoseconds ("2026-01-01T12:00:00.123456789Z"); None for the zero time."""
    if not text or text.startswith("0001-"):
        return None
    head, _, tail = text.rstrip("Z").partition(".")
    micros = (tail[:6] if tail else "0").ljust(6, "0")
    return datetime.fromisoformat(f"{head}.{micros}").replace(tzinfo=timezone.utc)


def inspect_facts(data: Mapping[str, Any]) -> dict[str, Any]:
    """The few inspect facts a reading needs (the whole document is ~10 KB: keep the cache small)."""
    state = data.get("State") or {}
    return {"restarts": int(data.get("RestartCount") or 0), "started_at": parse_docker_time(state.get("StartedAt")),
            "exit_code": state.get("ExitCode"), "oom_killed": bool(state.get("OOMKilled")),
            "pid": int(state.get("Pid") or 0), "health": (state.get("Health") or {}).get("Status") or "none",
            "health_output": last_health_output(data),
            "restart_policy": ((data.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or ""}


def _os_error(error: BaseException) -> OSError | None:
    """The errno-carrying OSError somewhere inside docker's / requests' / urllib3's wrappers."""
    todo: list[Any] = [error]
    seen: set[int] = set()
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.errno is not None:
            return item
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return None


def is_connection_error(error: BaseException) -> bool:
    """Worth reconnecting for (refused, reset, timed out), unlike an API error such as a bad filter."""
    return _os_error(error) is not None or _is_timeout(error)


def _is_timeout(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, TimeoutError) or "timed out" in str(error).lower():
            return True
        error = error.__cause__ or error.__context__
    return False


def describe_docker_error(error: BaseException, url: str, timeout: float | None = None) -> str:
    """One line for a row: unreachable (and why), permission denied (and the fix), timeout, API error."""
    found = _os_error(error)
    if isinstance(found, PermissionError) or (found is not None and found.errno == errno.EACCES):
        return f"permission denied on {url.removeprefix('unix://')} (add the user to the docker group)"
    if _is_timeout(error):
        return f"docker engine at {url}: no answer" + (f" within {format_duration(timeout)}" if timeout else "")
    if found is not None:
        known = {errno.ECONNREFUSED: "connection refused", errno.ENOENT: "no such socket",
                 errno.ECONNRESET: "connection reset", errno.EHOSTUNREACH: "host unreachable"}
        return f"docker engine unreachable at {url}: {known.get(found.errno) or (found.strerror or str(found)).lower()}"
    return f"docker engine at {url}: {getattr(error, 'explanation', None) or error or type(error).__name__}"


@dataclass(frozen=True)
class ContainerView:
    """Everything known about one container at one poll; `judge` and `values` read only this."""

    name: str
    host: str
    image: str
    state: str
    health: str = "none"
    health_output: str = ""
    exit_code: int | None = None
    oom_killed: bool = False
    restart_policy: str = ""
    restarts: int = 0
    restarts_since_start: int = 0
    uptime_seconds: float | None = None
    cpu_percent: float | None = None
    mem_bytes: int | None = None
    mem_limit_bytes: int | None = None
    mem_percent: float | None = None
    net_rx_bytes: int | None = None
    net_tx_bytes: int | None = None
    pids: int | None = None
    project: str | None = None
    service: str | None = None
    stats_error: str = ""  # why a running container has no stats (or no facts) this poll: the row's reason

    def values(self) -> dict[str, Any]:
        keys = ("name", "host", "image", "state", "health", "restarts", "uptime_seconds", "cpu_percent",
                "mem_bytes", "mem_limit_bytes", "mem_percent", "net_rx_bytes", "net_tx_bytes", "pids",
                "project", "service", "exit_code", "restarts_since_start")
        return {key: getattr(self, key) for key in keys}


def judge(view: ContainerView, spec: ContainersConfig) -> tuple[Status, str]:
    """(status, reason) by the rules in the module docstring; the reason names the worst finding."""
    findings: list[tuple[Status, str]] = []
    add = findings.append
    if view.health == "unhealthy":
        add((Status.CRIT, f"unhealthy: {view.health_output}" if view.health_output else "unhealthy"))
    elif view.health == "starting":
        add((Status.WARN, "health: starting"))
    state = view.state
    if state == "restarting":
        add((Status.CRIT, f"restarting (restarted {view.restarts}x)"))
    elif state == "dead":
        add((Status.CRIT, "dead"))
    elif state == "exited":
        if view.oom_killed:
            add((Status.CRIT, f"exited ({view.exit_code}): out of memory"))
        elif view.exit_code:
            add((Status.CRIT, f"exited ({view.exit_code})"))
        elif view.restart_policy in ("always", "unless-stopped"):
            add((Status.CRIT, f"exited (0) despite restart policy {view.restart_policy}"))
    elif state == "paused":
        add((Status.WARN, "paused"))
    elif state == "created":
        add((Status.WARN, "created, never started"))
    elif state == "removing":
        add((Status.WARN, "being removed"))
    _threshold(findings, "cpu", view.cpu_percent, spec.cpu_warn, spec.cpu_crit)
    _threshold(findings, "memory", view.mem_percent, spec.memory_warn, spec.memory_crit)
    if view.restarts_since_start > 0 and state != "restarting":
        add((Status.WARN, f"restarted {view.restarts_since_start}x since launch start"))
    if view.stats_error and state in ("running", "paused"):
        add((Status.UNKNOWN, view.stats_error))
    if not findings:
        return Status.OK, _ok_reason(view)
    findings.sort(key=lambda f: -f[0].severity)  # stable: rule order breaks ties
    return findings[0][0], "; ".join(text for _, text in findings)


def _threshold(findings: list[tuple[Status, str]], what: str, value: float | None, warn: float, crit: float) -> None:
    if value is None:
        return
    if value >= crit:
        findings.append((Status.CRIT, f"{what} {value:.0f}% ≥ {crit:g}%"))
    elif value >= warn:
        findings.append((Status.WARN, f"{what} {value:.0f}% ≥ {warn:g}%"))


def _ok_reason(view: ContainerView) -> str:
    if view.state == "exited":
        return "completed (exit 0)"
    if view.uptime_seconds is None:
        return view.state
    health = f", {view.health}" if view.health != "none" else ""
    return f"up {format_duration(view.uptime_seconds)}{health}"


# ---------------------------------------------------------------- samples straight from cgroup files

NANOS = 1_000_000_000


class CgroupReader:
    """Engine-shaped samples (cpu_stats, memory_stats, pids_stats, networks) from this machine's files.

    Why: an engine sample costs ~3.6-5 ms of dockerd + containerd + shim CPU; reading the few files
    its numbers come from costs ~0.2 ms. They are the counters the engine reports (cpuacct.usage or
    cpu.stat usage_usec; /proc/stat's first seven cpu fields; memory.usage_in_bytes / memory.current
    with the limit capped at MemTotal; pids.current; the netns' interfaces but lo), so the math
    above gives the CLI's numbers. A container is read only if /proc/<pid>/cgroup names its id (so
    pids and paths are seen as the engine sees them); otherwise `sample` is None: ask the engine.
    """

    def __init__(self, proc: str = "/proc") -> None:
        self.proc = proc
        self.mounts, self.version = _cgroup_mounts(f"{proc}/self/mountinfo")
        self.online_cpus = os.sysconf("SC_NPROCESSORS_ONLN")
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.machine_memory = _meminfo_total(f"{proc}/meminfo")

    @property
    def usable(self) -> bool:
        needed = ("cpuacct", "memory") if self.version == 1 else ("",)
        return self.version in (1, 2) and all(name in self.mounts for name in needed)

    def system_cpu_usage(self) -> int:
        """Host CPU time in ns the engine's way: user..softirq of /proc/stat's "cpu" line (no steal)."""
        with open(f"{self.proc}/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
        return sum(int(v) for v in fields[1:8]) * NANOS // self.ticks

    def sample_many(self, pids: Mapping[str, int]) -> dict[str, dict[str, Any] | None]:
        """{container id: sample or None}; one system-time reading shared by all, like an engine tick."""
        system = self.system_cpu_usage()
        return {cid: self.sample(cid, pid, system) for cid, pid in pids.items()}

    def sample(self, cid: str, pid: int, system: int) -> dict[str, Any] | None:
        try:
            paths = self._paths(cid, pid)
            if paths is None:
                return None
            return self._read_v1(paths, pid, system) if self.version == 1 else self._read_v2(paths[""], pid, system)
        except (OSError, ValueError, KeyError):  # gone mid-read, or an unexpected layout: ask the engine
            return None

    def _paths(self, cid: str, pid: int) -> dict[str, str] | None:
        paths: dict[str, str] = {}
        with open(f"{self.proc}/{pid}/cgroup", encoding="utf-8") as cgroup:
            for line in cgroup:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for name in controllers.split(",") if controllers else [""]:
                    if name in self.mounts and cid in path:
                        mount, root = self.mounts[name]
                        relative = path[len(root.rstrip("/")):] if path.startswith(root) else None
                        if relative is not None:
                            paths[name] = mount + relative
        needed = ("cpuacct", "memory") if self.version == 1 else ("",)
        return paths if all(name in paths for name in needed) else None

    def _read_v1(self, paths: dict[str, str], pid: int, system: int) -> dict[str, Any]:
        memory, stats = paths["memory"], _flat(f"{paths['memory']}/memory.stat")
        return self._shape(cpu_total=_int(f"{paths['cpuacct']}/cpuacct.usage"), system=system,
                           usage=_int(f"{memory}/memory.usage_in_bytes"), limit=_int(f"{memory}/memory.limit_in_bytes"),
                           stats=stats, pids=_int(f"{paths['pids']}/pids.current") if "pids" in paths else None, pid=pid)

    def _read_v2(self, path: str, pid: int, system: int) -> dict[str, Any]:
        limit_text = _text(f"{path}/memory.max")
        return self._shape(cpu_total=_flat(f"{path}/cpu.stat")["usage_usec"] * 1000, system=system,
                           usage=_int(f"{path}/memory.current"),
                           limit=self.machine_memory if limit_text == "max" else int(limit_text),
                           stats=_flat(f"{path}/memory.stat"), pid=pid,
                           pids=_int(f"{path}/pids.current") if os.path.exists(f"{path}/pids.current") else None)

    def _shape(self, *, cpu_total: int, system: int, usage: int, limit: int, stats: dict[str, int],
               pids: int | None, pid: int) -> dict[str, Any]:
        return engine_shaped(cpu_total=cpu_total, system=system, online_cpus=self.online_cpus, usage=usage,
                             limit=limit, machine_memory=self.machine_memory, stats=stats, pids=pids,
                             networks=_net_dev(f"{self.proc}/{pid}/net/dev"))


def engine_shaped(*, cpu_total: int, system: int, online_cpus: int, usage: int, limit: int, machine_memory: int,
                  stats: dict[str, int], pids: int | None, networks: dict[str, dict[str, int]]) -> dict[str, Any]:
    """A stats sample as the engine would return it, from counters read in cgroup and /proc files."""
    if machine_memory and limit > machine_memory:  # no limit set: the engine shows MemTotal
        limit = machine_memory
    return {"cpu_stats": {"cpu_usage": {"total_usage": cpu_total}, "system_cpu_usage": system,
                          "online_cpus": online_cpus},
            "memory_stats": {"usage": usage, "limit": limit, "stats": stats},
            "pids_stats": {"current": pids}, "networks": networks}


def _text(path: str) -> str:
    with open(path, encoding="ascii") as handle:
        return handle.read().strip()


def _int(path: str) -> int:
    return int(_text(path))


def _flat(path: str) -> dict[str, int]:
    """A "key value" per line file (memory.stat, cpu.stat)."""
    return {key: int(value) for key, value in (line.split() for line in _text(path).splitlines() if line)}


def _net_dev(path: str) -> dict[str, dict[str, int]]:
    """Per-interface rx/tx bytes of the container's network namespace, loopback excluded (as the engine)."""
    networks = {}
    for line in _text(path).splitlines()[2:]:
        name, _, counters = line.partition(":")
        fields = counters.split()
        if name.strip() != "lo" and len(fields) >= 9:
            networks[name.strip()] = {"rx_bytes": int(fields[0]), "tx_bytes": int(fields[8])}
    return networks


def _meminfo_total(path: str) -> int:
    try:
        with open(path, encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # no /proc/meminfo: limits stay as the cgroup says
        return 0
    return 0


def _cgroup_mounts(mountinfo: str) -> tuple[dict[str, tuple[str, str]], int]:
    """({controller: (mount point, mount root)}, cgroup version); v1 wins on hybrid hosts, as for the engine."""
    v1: dict[str, tuple[str, str]] = {}
    v2: dict[str, tuple[str, str]] = {}
    try:
        with open(mountinfo, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}, 0
    for line in lines:
        head, _, tail = line.partition(" - ")
        fields, extra = head.split(), tail.split()
        if len(fields) < 5 or len(extra) < 3:
            continue
        root, mount = fields[3], fields[4].replace("\\040", " ")
        if extra[0] == "cgroup":
            for option in extra[2].split(","):
                if option in ("cpuacct", "memory", "pids"):
                    v1[option] = (mount, root)
        elif extra[0] == "cgroup2":
            v2[""] = (mount, root)
    if "memory" in v1:
        return v1, 1
    return (v2, 2) if v2 else ({}, 0)
