"""ContainersProbe without containers: the CLI's math, the status rules, cgroup files, the fan-out,
events, and every way a whole host can fail (one clear unknown reading, never a traceback)."""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
from pathlib import Path

import pytest

from launchdeck.core.config import ContainersConfig, HostConfig
from launchdeck.probes.containers.engine_stats import (CgroupReader, ContainerView, cpu_percent, health_from_status, judge,
                                    last_health_output, memory_percent, memory_used, network_bytes, parse_docker_time)
from launchdeck.core.model import FixedClock, Status
from launchdeck.engine.polling import collect_batch
from launchdeck.probes.base import Batch
from launchdeck.probes.containers.probe import ContainersProbe, describe_docker_error

MiB = 1024 * 1024
SPEC = ContainersConfig()


# ---------------------------------------------------------------- CPU % and memory, as the docker CLI


def test_cpu_percent_hand_computed():
    previous = {"cpu_usage": {"total_usage": 1_000_000_000}, "system_cpu_usage": 10_000_000_000, "online_cpus": 2}
    current = {"cpu_usage": {"total_usage": 2_000_000_000}, "system_cpu_usage": 20_000_000_000, "online_cpus": 2}
    # (1e9 / 10e9) x 2 CPUs x 100 = 20 %
    assert cpu_percent(current, previous) == pytest.approx(20.0)
    # one core saturated on a 2-CPU host: the container used half of all CPU time -> 100 %
    busy = {"cpu_usage": {"total_usage": 6_000_000_000}, "system_cpu_usage": 20_000_000_000, "online_cpus": 2}
    assert cpu_percent(busy, previous) == pytest.approx(100.0)


def test_cpu_percent_without_online_cpus_counts_percpu_usage():
    previous = {"cpu_usage": {"total_usage": 500, "percpu_usage": [1, 1, 1, 1]}, "system_cpu_usage": 1000}
    current = {"cpu_usage": {"total_usage": 800, "percpu_usage": [1, 1, 1, 1]}, "system_cpu_usage": 4000}
    assert cpu_percent(current, previous) == pytest.approx(300 / 3000 * 4 * 100)  # 40 %


def test_cpu_percent_edges():
    sample = {"cpu_usage": {"total_usage": 900}, "system_cpu_usage": 5000, "online_cpus": 1}
    assert cpu_percent(sample, None) is None  # no previous sample yet
    zeros = {"cpu_usage": {"total_usage": 0}, "throttling_data": {}}  # a one-shot answer's precpu_stats
    assert cpu_percent(sample, zeros) is None  # not a lifetime average in disguise
    restarted = {"cpu_usage": {"total_usage": 5000}, "system_cpu_usage": 1000, "online_cpus": 1}
    assert cpu_percent(sample, restarted) is None  # the counter went backwards: a new cgroup
    idle = {"cpu_usage": {"total_usage": 900}, "system_cpu_usage": 1000, "online_cpus": 1}
    assert cpu_percent(sample, idle) == 0.0
    same_tick = {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 5000, "online_cpus": 1}
    assert cpu_percent(sample, same_tick) == 0.0  # no system time passed: the CLI says 0


def test_memory_cgroup_v1_subtracts_total_inactive_file():
    memory = {"usage": 100 * MiB, "limit": 200 * MiB,
              "stats": {"total_inactive_file": 30 * MiB, "inactive_file": 10 * MiB, "cache": 40 * MiB}}
    assert memory_used(memory) == 70 * MiB  # total_inactive_file wins on v1, not inactive_file
    assert memory_percent(memory_used(memory), memory["limit"]) == pytest.approx(35.0)


def test_memory_cgroup_v2_subtracts_inactive_file():
    memory = {"usage": 100 * MiB, "limit": 64 * MiB, "stats": {"inactive_file": 30 * MiB, "file": 50 * MiB}}
    assert memory_used(memory) == 70 * MiB


def test_memory_edges():
    assert memory_used({"usage": 10, "stats": {"total_inactive_file": 20}}) == 10  # never below zero
    assert memory_used({"usage": 10, "stats": {"inactive_file": 10}}) == 10
    assert memory_used({"usage": 10}) == 10
    assert memory_used({}) is None  # a stopped container's zeroed stats
    assert memory_percent(10, 0) is None and memory_percent(None, 100) is None


def test_network_bytes_sum_interfaces():
    sample = {"networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 7}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}}}
    assert network_bytes(sample) == (101, 9)
    assert network_bytes({}) == (0, 0)  # --network none


def test_health_words_and_output():
    assert health_from_status("Up 2 minutes (healthy)") == "healthy"
    assert health_from_status("Up 2 minutes (unhealthy)") == "unhealthy"
    assert health_from_status("Up 1 second (health: starting)") == "starting"
    assert health_from_status("Exited (0) 3 minutes ago") == "none"
    log = {"State": {"Health": {"Log": [{"ExitCode": 0, "Output": "ok"},
                                        {"ExitCode": 1, "Output": "checking db\nconnection refused\n\n"}]}}}
    assert last_health_output(log) == "connection refused"
    assert last_health_output({"State": {"Health": {"Log": [{"ExitCode": 1, "Output": ""}]}}}) == "healthcheck exited 1"
    assert last_health_output({"State": {}}) == ""


def test_docker_times():
    parsed = parse_docker_time("2026-01-01T12:00:00.123456789Z")
    assert (parsed.year, parsed.microsecond, parsed.tzinfo is not None) == (2026, 123456, True)
    assert parse_docker_time("2026-01-01T12:00:00Z").second == 0
    assert parse_docker_time("0001-01-01T00:00:00Z") is None


# ---------------------------------------------------------------- status rules


def view(**changes) -> ContainerView:
    base = dict(name="web", host="local", image="app:1", state="running", uptime_seconds=300.0,
                cpu_percent=5.0, mem_percent=10.0)
    return ContainerView(**{**base, **changes})


@pytest.mark.parametrize(("changes", "status", "reason"), [
    ({}, Status.OK, "up 5m"),
    ({"health": "healthy"}, Status.OK, "up 5m, healthy"),
    ({"health": "unhealthy", "health_output": "db down"}, Status.CRIT, "unhealthy: db down"),
    ({"health": "starting"}, Status.WARN, "health: starting"),
    ({"state": "restarting", "restarts": 4, "uptime_seconds": None}, Status.CRIT, "restarting (restarted 4x)"),
    ({"state": "exited", "exit_code": 1, "uptime_seconds": None}, Status.CRIT, "exited (1)"),
    ({"state": "exited", "exit_code": 137, "oom_killed": True, "uptime_seconds": None}, Status.CRIT,
     "exited (137): out of memory"),
    ({"state": "exited", "exit_code": 0, "uptime_seconds": None}, Status.OK, "completed (exit 0)"),
    ({"state": "exited", "exit_code": 0, "restart_policy": "on-failure", "uptime_seconds": None}, Status.OK,
     "completed (exit 0)"),
    ({"state": "exited", "exit_code": 0, "restart_policy": "always", "uptime_seconds": None}, Status.CRIT,
     "exited (0) despite restart policy always"),
    ({"state": "dead", "uptime_seconds": None}, Status.CRIT, "dead"),
    ({"state": "paused"}, Status.WARN, "paused"),
    ({"state": "created", "uptime_seconds": None, "cpu_percent": None}, Status.WARN, "created, never started"),
    ({"cpu_percent": 93.4}, Status.CRIT, "cpu 93% ≥ 90%"),
    ({"cpu_percent": 70.0}, Status.WARN, "cpu 70% ≥ 70%"),
    ({"mem_percent": 85.0}, Status.WARN, "memory 85% ≥ 80%"),
    ({"mem_percent": 90.0}, Status.CRIT, "memory 90% ≥ 90%"),
    ({"restarts": 5, "restarts_since_start": 2}, Status.WARN, "restarted 2x since launch start"),
    ({"stats_error": "no stats: docker engine at unix:///x: no answer within 5s"}, Status.UNKNOWN,
     "no stats: docker engine at unix:///x: no answer within 5s"),
    ({"health": "unhealthy", "health_output": "x", "cpu_percent": 75.0}, Status.CRIT, "unhealthy: x; cpu 75% ≥ 70%"),
    ({"stats_error": "no stats: timeout", "health": "unhealthy"}, Status.CRIT, "unhealthy; no stats: timeout"),
])
def test_status_rules(changes, status, reason):
    assert judge(view(**changes), SPEC) == (status, reason)


def test_thresholds_come_from_the_spec():
    spec = ContainersConfig(cpu_warn=10, cpu_crit=20, memory_warn=5, memory_crit=50)
    assert judge(view(cpu_percent=15.0, mem_percent=1.0), spec) == (Status.WARN, "cpu 15% ≥ 10%")
    assert judge(view(cpu_percent=1.0, mem_percent=60.0), spec) == (Status.CRIT, "memory 60% ≥ 50%")


def test_values_carry_every_documented_field():
    values = view(project="shop", service="web").values()
    for key in ("name", "host", "image", "state", "health", "restarts", "uptime_seconds", "cpu_percent", "mem_bytes",
                "mem_limit_bytes", "mem_percent", "net_rx_bytes", "net_tx_bytes", "pids", "project", "service"):
        assert key in values
    assert (values["project"], values["service"]) == ("shop", "web")


# ---------------------------------------------------------------- cgroup files (a fake /proc and /sys)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _fake_proc(tmp_path: Path, version: int, cid: str, pid: int = 4242) -> Path:
    proc, sys_fs = tmp_path / "proc", tmp_path / "sys"
    if version == 1:
        mounts = "".join(f"{30 + i} 20 0:{30 + i} / {sys_fs}/{name} rw - cgroup cgroup rw,{name}\n"
                         for i, name in enumerate(("cpuacct", "memory", "pids")))
        mounts += f"50 20 0:50 / {sys_fs}/unified rw - cgroup2 cgroup2 rw\n"  # hybrid: v1 still wins
        cgroup = f"3:pids:/docker/{cid}\n2:memory:/docker/{cid}\n1:cpuacct:/docker/{cid}\n0::/docker/{cid}\n"
        base = sys_fs
        _write(base / "cpuacct" / "docker" / cid / "cpuacct.usage", "3000000000\n")
        _write(base / "memory" / "docker" / cid / "memory.usage_in_bytes", f"{100 * MiB}\n")
        _write(base / "memory" / "docker" / cid / "memory.limit_in_bytes", "9223372036854771712\n")
        _write(base / "memory" / "docker" / cid / "memory.stat",
               f"cache {40 * MiB}\ninactive_file {10 * MiB}\ntotal_inactive_file {30 * MiB}\n")
        _write(base / "pids" / "docker" / cid / "pids.current", "7\n")
    else:
        mounts = f"30 20 0:30 / {sys_fs} rw - cgroup2 cgroup2 rw\n"
        cgroup = f"0::/system.slice/docker-{cid}.scope\n"
        scope = sys_fs / "system.slice" / f"docker-{cid}.scope"
        _write(scope / "cpu.stat", "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n")
        _write(scope / "memory.current", f"{100 * MiB}\n")
        _write(scope / "memory.max", f"{64 * MiB}\n")
        _write(scope / "memory.stat", f"anon {60 * MiB}\ninactive_file {30 * MiB}\n")
        _write(scope / "pids.current", "3\n")
    _write(proc / "self" / "mountinfo", mounts)
    _write(proc / str(pid) / "cgroup", cgroup)
    _write(proc / str(pid) / "net" / "dev",
           "Inter-|   Receive  |  Transmit\n face |bytes packets|bytes packets\n"
           "    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n"
           "  eth0: 1016 12 0 0 0 0 0 0 300 4 0 0 0 0 0 0\n")
    _write(proc / "stat", "cpu  100 0 50 800 10 0 40 5 0 0\ncpu0 50 0 25 400 5 0 20 0 0 0\n")
    _write(proc / "meminfo", "MemTotal:        1024000 kB\nMemFree: 1 kB\n")
    return proc


def test_cgroup_v1_sample_has_the_engine_shape(tmp_path):
    cid = "ab" * 32
    reader = CgroupReader(str(_fake_proc(tmp_path, 1, cid)))
    assert reader.usable and reader.version == 1
    assert reader.system_cpu_usage() == (100 + 0 + 50 + 800 + 10 + 0 + 40) * 10**9 // reader.ticks  # no steal
    sample = reader.sample_many({cid: 4242})[cid]
    assert sample["cpu_stats"]["cpu_usage"]["total_usage"] == 3_000_000_000
    assert memory_used(sample["memory_stats"]) == 70 * MiB
    assert sample["memory_stats"]["limit"] == 1024000 * 1024  # no limit: MemTotal, as the engine shows
    assert sample["pids_stats"]["current"] == 7
    assert network_bytes(sample) == (1016, 300)  # loopback excluded


def test_cgroup_v2_sample(tmp_path):
    cid = "cd" * 32
    reader = CgroupReader(str(_fake_proc(tmp_path, 2, cid)))
    assert reader.usable and reader.version == 2
    sample = reader.sample(cid, 4242, reader.system_cpu_usage())
    assert sample["cpu_stats"]["cpu_usage"]["total_usage"] == 3_000_000_000  # usage_usec x 1000
    assert memory_used(sample["memory_stats"]) == 70 * MiB
    assert memory_percent(memory_used(sample["memory_stats"]), sample["memory_stats"]["limit"]) == pytest.approx(109.375)


def test_cgroup_reader_refuses_a_pid_that_is_not_the_container(tmp_path):
    cid = "ef" * 32
    reader = CgroupReader(str(_fake_proc(tmp_path, 1, cid)))
    assert reader.sample("99" * 32, 4242, 1) is None  # that pid belongs to another container
    assert reader.sample(cid, 5555, 1) is None  # no such pid (here: another pid namespace)


def test_cgroup_reader_without_cgroups_is_not_usable(tmp_path):
    _write(tmp_path / "proc" / "self" / "mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n")
    assert not CgroupReader(str(tmp_path / "proc")).usable


# ---------------------------------------------------------------- the probe against a fake engine


class Gone(Exception):
    status_code = 404


class FakeStream:
    """An events response: iteration blocks until an event is put or close() is called."""

    def __init__(self) -> None:
        self.items: queue.Queue = queue.Queue()
        self.closed = threading.Event()

    def __iter__(self):
        while (item := self.items.get()) is not None:
            yield item

    def close(self) -> None:
        self.closed.set()
        self.items.put(None)


class FakeAPI:
    api_version = "1.41"

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.inspects: dict[str, dict] = {}
        self.samples: dict[str, object] = {}
        self.calls: list[tuple] = []
        self.delay = 0.0
        self.stream = FakeStream()
        self.lock = threading.Lock()

    def containers(self, all, filters):  # noqa: A002 - the SDK's own keyword
        assert all is True
        return [dict(row) for row in self.rows]

    def inspect_container(self, cid):
        with self.lock:
            self.calls.append(("inspect", cid))
        if cid not in self.inspects:
            raise Gone(f"No such container: {cid}")
        return self.inspects[cid]

    def stats(self, cid, stream, one_shot=None):
        assert stream is False
        with self.lock:
            self.calls.append(("stats", cid, one_shot))
        time.sleep(self.delay)
        sample = self.samples[cid]
        if isinstance(sample, BaseException):
            raise sample
        return sample

    def events(self, decode, filters, since):
        assert decode and filters["type"] == "container" and "exec_start" not in filters["event"]
        self.calls.append(("events", since))
        return self.stream


class FakeClient:
    def __init__(self) -> None:
        self.api = FakeAPI()
        self.closed = False

    def close(self) -> None:
        self.closed = True


def row(cid: str, name: str, state: str = "running", status: str = "Up 5 minutes", labels=None) -> dict:
    return {"Id": cid, "Names": [f"/{name}"], "Image": "shop/web:1.4", "State": state, "Status": status,
            "Labels": labels or {}}


def inspect(restarts: int = 0, exit_code: int = 0, policy: str = "no", health: dict | None = None) -> dict:
    state = {"StartedAt": "2026-01-01T11:55:00.000000001Z", "ExitCode": exit_code, "OOMKilled": False, "Pid": 0}
    if health is not None:
        state["Health"] = health
    return {"RestartCount": restarts, "State": state, "HostConfig": {"RestartPolicy": {"Name": policy}}}


def stats(total: int, system: int, usage: int = 50 * MiB, limit: int = 100 * MiB, precpu: dict | None = None) -> dict:
    return {"cpu_stats": {"cpu_usage": {"total_usage": total}, "system_cpu_usage": system, "online_cpus": 2},
            "precpu_stats": precpu or {"cpu_usage": {"total_usage": 0}},
            "memory_stats": {"usage": usage, "limit": limit, "stats": {"total_inactive_file": 0}},
            "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}}, "pids_stats": {"current": 3}}


def fake_probe(client: FakeClient, spec: ContainersConfig | None = None) -> ContainersProbe:
    probe = ContainersProbe(spec or ContainersConfig(filters={"label": ["app=shop"]}), None, 2.0, clock=FixedClock(),
                            read_cgroups=False)
    probe._client, probe.url = client, "unix:///fake.sock"
    return probe


async def wait_for(condition, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def test_collect_one_reading_per_container_with_the_cli_numbers():
    client = FakeClient()
    api = client.api
    api.rows = [row("a" * 64, "web", status="Up 5 minutes (healthy)",
                    labels={"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}),
                row("b" * 64, "migrate", state="exited", status="Exited (0) 2 minutes ago"),
                row("c" * 64, "cron", state="exited", status="Exited (2) 1 minute ago")]
    api.inspects = {"a" * 64: inspect(health={"Status": "healthy", "Log": []}), "b" * 64: inspect(),
                    "c" * 64: inspect(exit_code=2)}
    # first sight: a plain stream=False answer, whose precpu_stats the engine filled
    api.samples = {"a" * 64: stats(2_000_000_000, 20_000_000_000,
                                   precpu={"cpu_usage": {"total_usage": 1_000_000_000}, "system_cpu_usage": 10_000_000_000})}
    probe = fake_probe(client)
    try:
        batch = await probe.collect()
        assert isinstance(batch, Batch)
        readings = dict(batch)
        assert list(readings) == ["local/cron", "local/migrate", "local/web"]
        web = readings["local/web"]
        assert web.status is Status.OK and web.reason == "up 5m, healthy"
        assert web.values["cpu_percent"] == pytest.approx(20.0)
        assert (web.values["mem_bytes"], web.values["mem_limit_bytes"], web.values["mem_percent"]) == (50 * MiB, 100 * MiB, 50.0)
        assert (web.values["project"], web.values["service"], web.values["image"]) == ("shop", "web", "shop/web:1.4")
        assert (web.values["net_rx_bytes"], web.values["net_tx_bytes"], web.values["pids"]) == (10, 20, 3)
        assert web.values["uptime_seconds"] == 300.0  # FixedClock: 12:00, started 11:55
        assert readings["local/migrate"].status is Status.OK and readings["local/migrate"].values["uptime_seconds"] is None
        assert readings["local/cron"].status is Status.CRIT and readings["local/cron"].reason == "exited (2)"
        assert ("stats", "a" * 64, None) in api.calls  # first sight: not one-shot

        # second poll: one-shot (no previous sample inside), CPU against our own previous sample
        api.calls.clear()
        api.samples = {"a" * 64: stats(5_000_000_000, 30_000_000_000)}  # +3e9 of +10e9, 2 CPUs
        readings = dict(await probe.collect())
        assert readings["local/web"].values["cpu_percent"] == pytest.approx(60.0)
        assert api.calls == [("stats", "a" * 64, True)]  # no inspect: nothing changed, no event
    finally:
        await probe.aclose()
    assert client.closed and api.stream.closed.is_set()
    assert not any(t.name.startswith("launchdeck-docker") for t in threading.enumerate())


async def test_events_mark_containers_stale_and_are_recorded():
    client = FakeClient()
    api = client.api
    cid = "d" * 64
    api.rows = [row(cid, "worker")]
    api.inspects = {cid: inspect(restarts=1)}
    api.samples = {cid: stats(1, 10)}
    probe = fake_probe(client)
    try:
        await probe.collect()
        api.inspects[cid] = inspect(restarts=3)
        base = {"Type": "container", "id": cid, "Actor": {"ID": cid, "Attributes": {"name": "worker", "exitCode": "1"}}}
        api.stream.items.put({**base, "Action": "die", "timeNano": 1_700_000_000_000_000_000})
        api.stream.items.put({**base, "Action": "die", "timeNano": 1_700_000_000_000_000_000})  # replayed: once
        api.stream.items.put({**base, "Action": "start", "timeNano": 1_700_000_001_000_000_000})
        api.stream.items.put({**base, "Action": "health_status: unhealthy", "timeNano": 1_700_000_002_000_000_000})
        await wait_for(lambda: len(probe.events_snapshot()) == 2)
        readings = dict(await probe.collect())
        worker = readings["local/worker"]
        assert (worker.status, worker.reason) == (Status.WARN, "restarted 2x since launch start")
        assert worker.values["restarts"] == 3
        events = probe.events_snapshot()
        assert [(e["container"], e["action"], e["detail"]) for e in events] == [
            ("worker", "die", "exit code 1"), ("worker", "health_status", "unhealthy")]
        assert events[0]["host"] == "local" and events[0]["time"].year == 2023
    finally:
        await probe.aclose()


async def test_a_lost_events_stream_is_resumed_where_it_stopped():
    client = FakeClient()
    api = client.api
    cid = "9" * 64
    api.rows = [row(cid, "api")]
    api.inspects = {cid: inspect()}
    api.samples = {cid: stats(1, 10)}
    probe = fake_probe(client)
    try:
        await probe.collect()
        first = api.stream
        api.stream = FakeStream()  # what the engine hands out after its restart
        first.items.put({"id": cid, "Action": "die", "timeNano": 1_700_000_000_123_456_789,
                         "Actor": {"Attributes": {"name": "api", "exitCode": "137"}}})
        first.items.put(None)  # the engine went away: the response ends
        await wait_for(lambda: not probe._events_reader.thread.is_alive())
        api.calls.clear()
        await probe.collect()
        assert ("events", "1700000000.123456789") in api.calls  # resumed from the last event seen
        assert ("inspect", cid) in api.calls  # events may have been missed meanwhile: look again
    finally:
        await probe.aclose()


async def test_fan_out_is_parallel_and_a_slow_container_is_its_own_problem():
    client = FakeClient()
    api = client.api
    api.rows = [row(f"{i:064x}", f"svc{i:02d}") for i in range(50)]
    api.inspects = {r["Id"]: inspect() for r in api.rows}
    api.samples = {r["Id"]: stats(1, 10) for r in api.rows}
    api.samples[api.rows[7]["Id"]] = TimeoutError("UnixHTTPConnectionPool: Read timed out. (read timeout=5)")
    api.delay = 0.3  # each stats call; 50 of them in sequence would take 15 s
    probe = fake_probe(client)
    try:
        started = time.monotonic()
        readings = dict(await probe.collect())
        assert time.monotonic() - started < 2.0
        slow = readings["local/svc07"]
        assert slow.status is Status.UNKNOWN
        assert slow.reason == "no stats: docker engine at unix:///fake.sock: no answer within 5s"
        assert all(r.status is Status.OK for name, r in readings.items() if name != "local/svc07")
    finally:
        await probe.aclose()


async def test_a_failed_inspect_is_that_containers_problem():
    client = FakeClient()
    api = client.api
    api.rows = [row("1" * 64, "flaky")]
    api.inspects = {"1" * 64: inspect()}
    api.samples = {"1" * 64: stats(1, 10)}
    probe = fake_probe(client)
    real = api.inspect_container
    api.inspect_container = lambda cid: (_ for _ in ()).throw(ConnectionResetError(104, "Connection reset by peer"))
    try:
        flaky = dict(await probe.collect())["local/flaky"]
        assert (flaky.status, flaky.reason) == (
            Status.UNKNOWN, "inspect failed: docker engine unreachable at unix:///fake.sock: connection reset")
        api.inspect_container = real
        assert dict(await probe.collect())["local/flaky"].status is Status.OK  # retried, not waited out
    finally:
        await probe.aclose()


async def test_a_container_removed_mid_poll_disappears_and_no_match_is_a_warning():
    client = FakeClient()
    api = client.api
    api.rows = [row("e" * 64, "gone-soon"), row("f" * 64, "stays")]
    api.inspects = {"f" * 64: inspect()}  # "e" was removed between the list and the inspect
    api.samples = {"f" * 64: stats(1, 10)}
    probe = fake_probe(client)
    try:
        assert [target for target, _ in await probe.collect()] == ["local/stays"]
        api.rows = []
        outcome = await probe.collect()
        assert outcome.status is Status.WARN and outcome.reason == "no containers match (filters: {'label': ['app=shop']})"
    finally:
        await probe.aclose()


async def test_probe_identity():
    probe = ContainersProbe(ContainersConfig(host="web1", interval=7, timeout=3), HostConfig(
        name="web1", address="10.0.0.5", user="deploy"), 2.0)
    assert (probe.panel, probe.target, probe.interval, probe.timeout) == ("containers", "web1", 7, 3)
    assert ContainersProbe(ContainersConfig(), None, 4.0).interval == 4.0


# ---------------------------------------------------------------- a whole host that cannot be read


async def test_engine_unreachable_is_one_clear_unknown_reading(tmp_path, monkeypatch):
    socket_path = tmp_path / "nope.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    probe = ContainersProbe(ContainersConfig(timeout=3), None, 2.0)
    try:
        readings = await collect_batch(probe)
    finally:
        await probe.aclose()
    assert len(readings) == 1
    assert (readings[0].panel, readings[0].target, readings[0].status) == ("containers", "local", Status.UNKNOWN)
    assert readings[0].reason == f"docker engine unreachable at unix://{socket_path}: no such socket"


async def test_engine_refusing_connections(tmp_path, monkeypatch):
    socket_path = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(socket_path))  # bound, never listening: connect() is refused
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    probe = ContainersProbe(ContainersConfig(timeout=3), None, 2.0)
    try:
        outcome = await probe.collect()
    finally:
        await probe.aclose()
        listener.close()
    assert (outcome.status, outcome.reason) == (Status.UNKNOWN, f"docker engine unreachable at unix://{socket_path}: connection refused")


async def test_engine_that_never_answers(tmp_path, monkeypatch):
    socket_path = tmp_path / "hung.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(socket_path))
    listener.listen(8)  # connections queue up, nobody ever answers
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    probe = ContainersProbe(ContainersConfig(timeout=2), None, 2.0)
    try:
        started = time.monotonic()
        readings = await collect_batch(probe)
        took = time.monotonic() - started
    finally:
        await probe.aclose()
        listener.close()
    assert [(r.target, r.status, r.reason) for r in readings] == [
        ("local", Status.UNKNOWN, f"docker engine at unix://{socket_path}: no answer within 1.8s")]
    assert took < 2.2


async def test_permission_denied_on_the_socket(tmp_path, monkeypatch):
    """Tests run as root, who may open any socket: make connect() fail the way it does for a user."""
    socket_path = tmp_path / "docker.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(socket_path))
    real_connect = socket.socket.connect

    def connect(self, address):
        if address == str(socket_path):
            raise PermissionError(13, "Permission denied")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    probe = ContainersProbe(ContainersConfig(timeout=3), None, 2.0)
    try:
        outcome = await probe.collect()
    finally:
        await probe.aclose()
        listener.close()
    assert outcome.reason == f"permission denied on {socket_path} (add the user to the docker group)"


def test_describe_docker_error_wording():
    assert describe_docker_error(TimeoutError(), "unix:///x.sock", 5) == "docker engine at unix:///x.sock: no answer within 5s"

    class APIError(Exception):
        explanation = "invalid filter 'colour'"

    assert describe_docker_error(APIError("400 Client Error"), "unix:///x.sock") == (
        "docker engine at unix:///x.sock: invalid filter 'colour'")


# ---------------------------------------------------------------- a remote host through a forwarded socket


class FakeConnections:
    """Stands in for remote.Connections: forwards to a LOCAL socket (the SDK-through-a-socket path)."""

    def __init__(self, path=None, error: BaseException | None = None, hang: bool = False) -> None:
        self.path, self.error, self.hang = path, error, hang
        self.calls: list[str] = []

    async def forward_unix_socket(self, host, remote_path="/var/run/docker.sock"):
        self.calls.append(host.name)
        if self.hang:
            await asyncio.sleep(3600)
        if self.error is not None:
            raise self.error
        return self.path


WEB1 = HostConfig(name="web1", address="10.0.0.5", user="deploy")


async def test_remote_host_goes_through_the_forwarded_socket(tmp_path):
    forwarded = tmp_path / "web1-docker.sock"
    forwarded.symlink_to("/var/run/docker.sock")  # the real engine, reached only via the path handed back
    connections = FakeConnections(forwarded)
    spec = ContainersConfig(host="web1", filters={"label": [f"launchdeck.unit={time.time_ns()}"]})
    probe = ContainersProbe(spec, WEB1, 2.0, connections=connections)
    try:
        first = await probe.collect()
        second = await probe.collect()
    finally:
        await probe.aclose()
    assert probe.url == f"unix://{forwarded}"
    assert first.status is Status.WARN and first.reason.startswith("no containers match")  # the engine answered
    assert second.reason == first.reason
    assert connections.calls == ["web1"]  # forwarded once, the client kept
    assert probe._cgroups is None  # a remote host's containers are never read from local files


async def test_remote_host_failures_are_readings_for_that_host(tmp_path):
    cases = [
        (FakeConnections(error=OSError("Connect call failed ('10.0.0.5', 22)")),
         "ssh web1: cannot forward the docker socket: Connect call failed ('10.0.0.5', 22)"),
        (FakeConnections(hang=True), "ssh web1: no docker socket forward within 1.6s"),
        (FakeConnections(tmp_path / "gone.sock"), f"docker engine unreachable at unix://{tmp_path / 'gone.sock'}: no such socket"),
    ]
    for connections, reason in cases:
        probe = ContainersProbe(ContainersConfig(host="web1", timeout=2), WEB1, 2.0, connections=connections)
        try:
            readings = await collect_batch(probe)
        finally:
            await probe.aclose()
        assert [(r.target, r.status, r.reason) for r in readings] == [("web1", Status.UNKNOWN, reason)]
    orphan = ContainersProbe(ContainersConfig(host="web1"), None, 2.0)
    assert (await orphan.collect()).reason == "host web1: no SSH connection to it (no [[hosts]] entry or no pool)"


# ---------------------------------------------------------------- the remote file read (one awk command)


def test_remote_read_refuses_values_that_are_not_ids_or_pids():
    from launchdeck.probes.containers.remote_cgroups import awk_argv

    good = "a" * 64
    argv = awk_argv({good: 42}, "/proc", with_ticks=False)
    assert argv[0] == "awk" and argv[2:] == ["/proc", "0", f"42:{good}"]
    for cid, pid in ((good + ";reboot", 42), ("$(id)", 42), ("A" * 64, 42), (good, 0), (good, "42")):
        with pytest.raises(ValueError, match="not a hex id with a positive pid"):
            awk_argv({cid: pid})
    with pytest.raises(ValueError, match="not a plain absolute path"):
        awk_argv({good: 42}, "/proc; rm -rf /")


def _fake_v2_host(root: Path, cid: str, pid: int) -> None:
    """A /proc and a cgroup v2 tree as a systemd host lays them out, the container under system.slice."""
    proc, cgroup = root / "proc", root / "cg"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text(
        "22 1 0:21 / /proc rw,relatime - proc proc rw\n"
        f"30 22 0:26 / {cgroup} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
    (proc / "stat").write_text("cpu  100 0 50 1000 10 0 5 7 0 0\ncpu0 50 0 25 500 5 0 2 3 0 0\n")
    (proc / "meminfo").write_text("MemTotal:        2048000 kB\nMemFree: 1 kB\n")
    (proc / str(pid) / "net").mkdir(parents=True)
    (proc / str(pid) / "cgroup").write_text(f"0::/system.slice/docker-{cid}.scope\n")
    (proc / str(pid) / "net" / "dev").write_text(
        "Inter-|   Receive  |  Transmit\n face |bytes packets|bytes\n"
        "    lo:     500   5 0 0 0 0 0 0      500   5 0 0 0 0 0 0\n"
        "  eth0: 1234567  10 0 0 0 0 0 0  7654321  12 0 0 0 0 0 0\n")
    scope = cgroup / "system.slice" / f"docker-{cid}.scope"
    scope.mkdir(parents=True)
    (scope / "cpu.stat").write_text("usage_usec 9876543\nuser_usec 1\nsystem_usec 2\n")
    (scope / "memory.current").write_text("52428800\n")
    (scope / "memory.max").write_text("max\n")
    (scope / "memory.stat").write_text("anon 1\nfile 2\ninactive_file 10485760\nactive_file 3\n")
    (scope / "pids.current").write_text("3\n")


def test_the_awk_program_reads_a_cgroup_v2_host_as_the_engine_would(tmp_path):
    """The real awk of this machine runs the fixed program against a v2 layout (the test VM is v1)."""
    import shutil
    import subprocess

    from launchdeck.probes.containers.remote_cgroups import awk_argv, parse_batch

    cid, gone = "c0ffee" * 10 + "beef", "ab" * 32
    _fake_v2_host(tmp_path, cid, 4242)
    awk = shutil.which("awk")
    assert awk, "no awk on this machine"
    argv = awk_argv({cid: 4242, gone: 999}, str(tmp_path / "proc"), with_ticks=True)
    out = subprocess.run([awk, *argv[1:]], capture_output=True, text=True, timeout=10, check=True).stdout
    host, samples = parse_batch(out)
    assert host.version == 2 and host.memtotal == 2048000 * 1024
    assert samples[gone] is None
    sample = samples[cid]
    # user..softirq of the "cpu" line (no steal): 1165 ticks, at the host's own USER_HZ
    assert sample["cpu_stats"]["system_cpu_usage"] == 1165 * 1_000_000_000 // host.ticks
    assert sample["cpu_stats"]["cpu_usage"]["total_usage"] == 9_876_543_000
    assert sample["memory_stats"] == {"usage": 52428800, "limit": 2048000 * 1024, "stats": {"inactive_file": 10485760}}
    assert memory_used(sample["memory_stats"]) == 52428800 - 10485760
    assert sample["pids_stats"] == {"current": 3}
    assert sample["networks"] == {"eth0": {"rx_bytes": 1234567, "tx_bytes": 7654321}}


def test_a_host_without_cgroup_mounts_says_so_in_one_line(tmp_path):
    import shutil
    import subprocess

    from launchdeck.probes.containers.remote_cgroups import awk_argv, parse_batch

    argv = awk_argv({"ab" * 32: 7}, str(tmp_path))
    out = subprocess.run([shutil.which("awk") or "awk", *argv[1:]], capture_output=True, text=True, timeout=10).stdout
    assert out == "version 0\n"
    host, samples = parse_batch(out)
    assert host.version == 0 and samples == {}
    assert parse_batch("sh: awk: not found\n")[0].version == -1  # awk missing: said apart from "no cgroups"
