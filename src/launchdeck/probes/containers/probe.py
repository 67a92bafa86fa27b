"""Containers panel: one probe per Docker host, one reading per container, numbers as `docker stats`.

Why this design (bench/containers.py: 30 busy containers, 2 s refresh, CPU of client + dockerd +
containerd + shims): the engine's stats are the cost. Each sample has dockerd ask containerd ask
the shim to read the container's cgroup files, ~3.6 ms of engine CPU per streamed sample and ~5 ms
per one-shot request: persistent streams measured 0.96x `docker stats`, one-shot polls 0.8-0.95x.
- local engine: the same counters read from the cgroup and /proc files (dockerstats.CgroupReader,
  for containers whose /proc/<pid>/cgroup names their id): 0.12x, 50 containers in ~0.03 s;
- remote engine (SSH [[hosts]] entry): the list, inspect and events through the forwarded socket;
  the same counters read on the host by one fixed awk run per refresh in one SSH session
  (remote_cgroups.py), so the host's engine is not asked for stats at all;
- a host without cgroup files (noted once in the event timeline), or containers the files don't
  show: one-shot stats fanned out at once in short-lived daemon threads; parallel calls share the
  engine's 1 s sampling tick: ~1.3 s a refresh for 50 containers (sequential: 50 s).
CPU % is the CLI's formula against our own previous sample. The first collect takes a baseline
(two file reads 1 s apart, or a plain `stream=False`, ~2 s) so one `launchdeck check` has CPU %.
Inspect facts are cached, refreshed on a list change, an engine event or every REINSPECT_EVERY s;
a daemon thread reads the events and keeps die / oom / restart / health_status in `self.events`
for a timeline. Every blocking call has a timeout (the client's, and a deadline inside the
probe's), so a slow container shows "no stats: ..." on its own row. aclose() closes the events
response (closing the client would not end a streaming read), then the client.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import os
import threading
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable

from launchdeck.core.config import ContainersConfig, HostConfig
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.model import Clock, Outcome, Status, SystemClock
from launchdeck.core.pool import run_blocking
from launchdeck.core.units import format_duration
from launchdeck.probes.base import Batch
from launchdeck.probes.containers.engine_stats import (
    CgroupReader,
    ContainerView,
    cpu_percent,
    describe_docker_error,
    health_from_status,
    inspect_facts,
    is_connection_error,
    judge,
    memory_percent,
    memory_used,
    network_bytes,
)
from launchdeck.probes.containers.remote_cgroups import (
    NoCgroupFiles,
    RemoteCgroupReader,
)

PANEL = "containers"
DEFAULT_URL = "unix:///var/run/docker.sock"
MAX_PARALLEL = 64  # engine calls in flight per host: more would spill onto a second engine tick (+1 s)
REINSPECT_EVERY = 60.0  # s: re-inspect everything even without an event (insurance against a missed one)
BASELINE_GAP = 1.0  # s between the first collect's two cgroup reads (the CLI's --no-stream spans ~1 s)
EVENTS_KEPT = 500
WATCHED = ("create", "start", "restart", "die", "kill", "oom", "stop", "pause", "unpause", "destroy",
           "rename", "update", "health_status")  # never exec_*: every healthcheck run makes three
RECORDED = ("die", "oom", "restart", "health_status")
STATS_STATES = ("running", "paused")


class DockerUnavailable(LaunchdeckError):
    """The whole host cannot be read; the message is the host row's reason, already worded."""
    title = "docker"


class ContainersProbe:
    """Every container matching spec.filters on one host (local, or an SSH [[hosts]] entry)."""

    panel = PANEL

    def __init__(self, spec: ContainersConfig, host: HostConfig | None, default_interval: float,
                 connections: Any = None, clock: Clock | None = None, *, read_cgroups: bool | None = None,
                 remote_proc: str = "/proc") -> None:
        """read_cgroups: None = cgroup files where readable (this machine's, or the SSH host's); False =
        engine only. remote_proc: where the SSH host's /proc is (another path shows a host without it)."""
        self.spec, self.host, self.connections = spec, host, connections
        self.target = spec.host
        self.timeout = spec.timeout
        self.interval = spec.interval or default_interval
        self.clock = clock or SystemClock()
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=EVENTS_KEPT)
        self.events_error = ""  # why the events stream last failed, if it did
        self.url = ""
        self._read_cgroups = read_cgroups
        self._cgroups: CgroupReader | RemoteCgroupReader | None = None
        self._remote_proc = remote_proc
        self.stats_note = ""  # how this host's stats are read, when not the cheap way (shown as an event)
        self.files_error = ""  # why the last cgroup-file read failed, if it did (the engine answered instead)
        self._client: Any = None
        self._lock = threading.Lock()  # guards what the events thread shares with collect
        self._dirty: set[str] = set()
        self._known: set[str] = set()
        self._seen_events: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=256)
        self._events_since: str | None = None  # resume point after the stream was lost
        self._events_reader: _EventsReader | None = None
        self._stop = threading.Event()
        self._workers: set[threading.Thread] = set()
        self._facts: dict[str, dict[str, Any]] = {}  # id -> inspect_facts(...)
        self._list_keys: dict[str, tuple[str, str]] = {}  # id -> (state, health) when last inspected
        self._previous: dict[str, dict[str, Any]] = {}  # id -> last cpu_stats, for the CPU delta
        self._baseline: dict[str, int] = {}  # id -> RestartCount when first seen ("launch start")
        self._reinspect_at = 0.0
        self._one_shot = True  # the engine's API >= 1.41 knows one-shot stats
        self._primed = False  # a first collect has taken its CPU baseline

    # ------------------------------------------------------------------ collect

    async def collect(self) -> Outcome | Batch:
        """One reading per container, or one unknown reading for the host when it cannot be read."""
        deadline = self.clock.monotonic() + self.timeout * 0.9  # inside the engine's timeout: our words win
        try:
            client = await self._connect(deadline)
            self._ensure_events(client)
            rows = await run_blocking(partial(client.api.containers, all=True, filters=dict(self.spec.filters)),
                                      timeout=self._left(deadline))
        except DockerUnavailable as error:
            return Outcome(Status.UNKNOWN, str(error))
        except Exception as error:  # requests / docker / timeout: the host's row says which
            if is_connection_error(error):
                await self._drop_client()  # reconnect (and re-forward) next poll
            return Outcome(Status.UNKNOWN, describe_docker_error(error, self.url, self.timeout * 0.9))
        if not rows:
            return Outcome(Status.WARN, f"no containers match (filters: {dict(self.spec.filters) or 'none'})")
        inspected = await self._fan_out(self._inspect_calls(client, rows), self._left(deadline))
        problems = self._absorb(inspected)
        rows = [row for row in rows if problems.get(row["Id"]) != "gone"]
        running = [row["Id"] for row in rows if row.get("State") in STATS_STATES]
        samples = await self._samples(client, running, deadline)
        self._primed = True
        vanished = {cid for cid, sample in samples.items() if getattr(sample, "status_code", None) == 404}
        rows = [row for row in rows if row["Id"] not in vanished]  # removed between the list and the read
        now = self.clock.now()
        readings = [self._reading(row, samples.get(row["Id"]), problems.get(row["Id"], ""), now) for row in rows]
        return Batch(sorted(readings, key=lambda pair: pair[0]))

    def _inspect_calls(self, client: Any, rows: list[dict[str, Any]]) -> dict[str, Callable[[], Any]]:
        now = self.clock.monotonic()
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            self._known = {row["Id"] for row in rows}
            events_live = self._events_reader is not None and self._events_reader.thread.is_alive()
        everything = now >= self._reinspect_at or not events_live
        if everything:
            self._reinspect_at = now + REINSPECT_EVERY
        caches = (self._facts, self._list_keys, self._previous, self._baseline)
        for gone in set().union(*caches) - self._known:  # removed containers: forget them
            for cache in caches:
                cache.pop(gone, None)
        calls = {}
        for row in rows:
            cid, state = row["Id"], row.get("State", "")
            key = (state, health_from_status(row.get("Status", "")))
            if everything or cid in dirty or state == "restarting" or self._list_keys.get(cid) != key:
                calls[cid] = partial(client.api.inspect_container, cid)
                self._list_keys[cid] = key
        return calls

    def _absorb(self, inspected: dict[str, Any]) -> dict[str, str]:
        """Cache fresh inspect facts; {id: problem} for failures ("gone" when removed meanwhile)."""
        problems = {}
        for cid, result in inspected.items():
            if isinstance(result, BaseException):
                gone = getattr(result, "status_code", None) == 404
                problems[cid] = "gone" if gone else f"inspect failed: {describe_docker_error(result, self.url, self.timeout)}"
                self._list_keys.pop(cid, None)  # try again next poll
                continue
            self._facts[cid] = inspect_facts(result)
            self._baseline.setdefault(cid, self._facts[cid]["restarts"])
        return problems

    async def _samples(self, client: Any, running: list[str], deadline: float) -> dict[str, Any]:
        """{id: stats sample or the exception}: cgroup files where readable, the engine for the rest."""
        samples: dict[str, Any] = {}
        pids = {cid: self._facts[cid]["pid"] for cid in running if self._facts.get(cid, {}).get("pid")}
        if pids and await self._reader() is not None:
            samples = await self._read_files(pids, deadline)
            with self._lock:  # unreadable: maybe restarted with a new pid; inspect again next poll
                self._dirty.update(cid for cid in pids if cid not in samples)
            if not self._primed and samples:  # a first collect: its own baseline, then the real read
                self._previous.update({cid: s["cpu_stats"] for cid, s in samples.items() if cid not in self._previous})
                await asyncio.sleep(BASELINE_GAP)
                samples = await self._read_files(pids, deadline)
        calls = {}
        for cid in running:
            if cid not in samples:  # no files for it (remote host without them, gone, unreadable): ask the engine
                one_shot = self._one_shot and (self._primed or cid in self._previous)
                calls[cid] = partial(client.api.stats, cid, stream=False, **({"one_shot": True} if one_shot else {}))
        samples.update(await self._fan_out(calls, self._left(deadline)))
        return samples

    async def _read_files(self, pids: dict[str, int], deadline: float) -> dict[str, Any]:
        """{id: sample} for the containers whose cgroup files were read (locally, or in one SSH command)."""
        reader = self._cgroups
        try:
            if isinstance(reader, RemoteCgroupReader):
                async with asyncio.timeout(self._left(deadline)):
                    found = await reader.sample_many(pids)
            else:
                found = await run_blocking(reader.sample_many, pids, timeout=self._left(deadline))
        except NoCgroupFiles as error:  # decided for good: this host's stats come from its engine
            if isinstance(self._cgroups, RemoteCgroupReader):
                await self._cgroups.aclose()
            self._cgroups, self._read_cgroups = None, False
            self._note(f"stats from the engine API (costs the host's engine ~4 ms per container): {error}")
            return {}
        except (OSError, TimeoutError, LaunchdeckError, ValueError) as error:  # this refresh only: the engine answers
            self.files_error = f"cgroup files not read: {error}"
            return {}
        self.files_error = ""
        return {cid: sample for cid, sample in found.items() if sample is not None}

    async def _reader(self) -> CgroupReader | RemoteCgroupReader | None:
        """Decided once: local engine -> this machine's files when it shows them; SSH host -> its files
        through the connection (given up, with a note, if the host has none)."""
        if self._cgroups is not None or self._read_cgroups is False:
            return self._cgroups
        if self.spec.host == "local" and self.url.startswith("unix://"):
            reader = await run_blocking(CgroupReader, timeout=self.timeout)
            self._cgroups = reader if reader.usable else None
            self._read_cgroups = self._cgroups is not None
        elif self.spec.host != "local" and self.host is not None and self.connections is not None:
            self._cgroups = RemoteCgroupReader(self.connections, self.host, self.timeout * 0.5, self._remote_proc)
        elif self._read_cgroups:  # asked for files on an engine whose containers this machine may show
            reader = await run_blocking(CgroupReader, timeout=self.timeout)
            self._cgroups = reader if reader.usable else None
            self._read_cgroups = self._cgroups is not None
        return self._cgroups

    def _note(self, text: str) -> None:
        """Say once, in the event timeline and on the probe, how this host's stats are read."""
        self.stats_note = text
        with self._lock:
            self.events.append({"time": self.clock.now(), "host": self.target, "container": "all containers",
                                "action": "note", "detail": text})

    def _reading(self, row: dict[str, Any], sample: Any, problem: str, now: datetime) -> tuple[str, Outcome]:
        cid, state = row["Id"], row.get("State", "")
        facts = self._facts.get(cid, {})
        labels = row.get("Labels") or {}
        live: dict[str, Any] = {}
        problem = "" if facts else problem  # an inspect that failed now, with facts cached: retried next poll
        if isinstance(sample, BaseException):
            problem = problem or f"no stats: {describe_docker_error(sample, self.url, self.timeout)}"
        elif isinstance(sample, dict):
            live = self._stats_values(cid, sample)
        restarts, started = facts.get("restarts", 0), facts.get("started_at")
        health = health_from_status(row.get("Status", ""))
        view = ContainerView(
            name=(row.get("Names") or [cid[:12]])[0].lstrip("/"), host=self.target, image=row.get("Image", ""),
            state=state, health=health if health != "none" else facts.get("health", "none"),
            health_output=facts.get("health_output", ""), exit_code=facts.get("exit_code"),
            oom_killed=facts.get("oom_killed", False), restart_policy=facts.get("restart_policy", ""),
            restarts=restarts, restarts_since_start=max(0, restarts - self._baseline.get(cid, restarts)),
            uptime_seconds=(now - started).total_seconds() if started and state in STATS_STATES else None,
            project=labels.get("com.docker.compose.project"), service=labels.get("com.docker.compose.service"),
            stats_error=problem, **live)
        status, reason = judge(view, self.spec)
        return f"{self.target}/{view.name}", Outcome(status, reason, view.values())

    def _stats_values(self, cid: str, sample: dict[str, Any]) -> dict[str, Any]:
        """CPU % against our own previous sample, else the engine's precpu_stats (a first plain poll)."""
        cpu = sample.get("cpu_stats") or {}
        previous = self._previous.get(cid) or sample.get("precpu_stats")
        if (cpu.get("cpu_usage") or {}).get("total_usage"):
            self._previous[cid] = cpu
        memory = sample.get("memory_stats") or {}
        used, limit = memory_used(memory), memory.get("limit")
        rx, tx = network_bytes(sample)
        return {"cpu_percent": cpu_percent(cpu, previous), "mem_bytes": used, "mem_limit_bytes": limit,
                "mem_percent": memory_percent(used, limit), "net_rx_bytes": rx, "net_tx_bytes": tx,
                "pids": (sample.get("pids_stats") or {}).get("current")}

    # ------------------------------------------------------------------ fan-out

    async def _fan_out(self, calls: dict[str, Callable[[], Any]], budget: float) -> dict[str, Any]:
        """Every call at once in short-lived daemon threads (<= MAX_PARALLEL): {key: result or exception}.
        A call still running after `budget` s is a TimeoutError; its thread ends within the socket timeout."""
        if not calls:
            return {}
        futures = {key: concurrent.futures.Future() for key in calls}
        queue = collections.deque(calls.items())
        for number in range(min(len(calls), MAX_PARALLEL)):
            thread = threading.Thread(target=self._work, args=(queue, futures), daemon=True,
                                      name=f"launchdeck-docker-{self.target}-{number}")
            with self._lock:
                self._workers.add(thread)
            thread.start()
        waiting = [asyncio.wrap_future(future) for future in futures.values()]
        try:
            await asyncio.wait(waiting, timeout=budget)
        finally:
            for future in waiting:
                future.cancel()  # a late result must not be delivered to a loop that may be gone
        results: dict[str, Any] = {}
        for key, future in futures.items():
            if future.done() and not future.cancelled():
                results[key] = future.exception() or future.result()
            else:
                future.cancel()
                results[key] = TimeoutError(f"timed out after {format_duration(budget)}")
        return results

    def _work(self, queue: collections.deque, futures: dict[str, concurrent.futures.Future]) -> None:
        try:
            while not self._stop.is_set():
                key, call = queue.popleft()  # IndexError when the queue is drained: this worker is done
                future = futures[key]
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(call())
                except BaseException as error:  # handed to collect, which words it for the row
                    future.set_exception(error)
        except IndexError:
            return
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())

    # ------------------------------------------------------------------ connection

    def _left(self, deadline: float) -> float:
        return max(0.1, deadline - self.clock.monotonic())

    async def _connect(self, deadline: float) -> Any:
        if self._stop.is_set():
            raise DockerUnavailable("probe closed")
        if self._client is not None:
            return self._client
        if self.spec.host == "local":
            self.url = os.environ.get("DOCKER_HOST") or DEFAULT_URL
        else:
            self.url = f"unix://{await self._forward()}"
        try:
            self._client = await run_blocking(self._make_client, self.url, timeout=self._left(deadline))
        except Exception as error:  # the constructor already asks the engine for its API version
            raise DockerUnavailable(describe_docker_error(error, self.url, self.timeout * 0.9)) from error
        return self._client

    async def _forward(self) -> str:
        name = self.spec.host
        if self.host is None or self.connections is None:
            raise DockerUnavailable(f"host {name}: no SSH connection to it (no [[hosts]] entry or no pool)")
        budget = self.timeout * 0.8  # inside the probe's own timeout, so this message is the one shown
        try:
            async with asyncio.timeout(budget):
                return str(await self.connections.forward_unix_socket(self.host))
        except TimeoutError:
            raise DockerUnavailable(f"ssh {name}: no docker socket forward within {format_duration(budget)}") from None
        except Exception as error:  # asyncssh / OSError: the host is down or refuses us, and that is the reading
            raise DockerUnavailable(f"ssh {name}: cannot forward the docker socket: {error}") from error

    def _make_client(self, url: str) -> Any:
        import docker  # lazily: start-up pays for it only when a containers panel exists
        from docker.utils import version_lt

        options = {"timeout": self.timeout, "max_pool_size": MAX_PARALLEL + 4}  # every fan-out call keeps its connection
        if self.spec.host == "local" and os.environ.get("DOCKER_HOST"):
            client = docker.from_env(**options)  # DOCKER_HOST with its TLS variables
        else:
            client = docker.DockerClient(base_url=url, **options)
        if url.startswith("unix://"):
            client.api.trust_env = False  # no proxy / netrc lookups per request (~0.5 ms of CPU each)
        self._one_shot = not version_lt(client.api.api_version, "1.41")
        return client

    async def _drop_client(self) -> None:
        """After a connection failure: stop the events thread; reconnect (and re-forward) next poll."""
        client, self._client = self._client, None
        await self._stop_events()
        self._reinspect_at = 0.0
        if client is not None:
            await run_blocking(client.close, timeout=self.timeout)

    # ------------------------------------------------------------------ events

    def _ensure_events(self, client: Any) -> None:
        reader = self._events_reader
        if reader is None or not reader.thread.is_alive():
            self._reinspect_at = 0.0 if reader is not None else self._reinspect_at  # died: events were missed
            self._events_reader = _EventsReader(self, client)

    def _on_event(self, event: dict[str, Any]) -> None:
        actor = event.get("Actor") or {}
        cid = event.get("id") or actor.get("ID") or ""
        action, _, detail = str(event.get("Action") or event.get("status") or "").partition(": ")
        nanos = int(event.get("timeNano") or int(event.get("time", 0)) * 10**9)
        self._events_since = f"{nanos // 10**9}.{nanos % 10**9:09d}"
        key = (nanos, cid, action, detail)
        attributes = actor.get("Attributes") or {}
        with self._lock:
            self._dirty.add(cid)
            relevant = "label" in self.spec.filters or cid in self._known
            if action not in RECORDED or not relevant or key in self._seen_events:
                return
            self._seen_events.append(key)
            if action == "die":
                detail = f"exit code {attributes.get('exitCode', '?')}"
            elif action == "oom":
                detail = "out of memory"
            self.events.append({"time": datetime.fromtimestamp(nanos / 1e9, timezone.utc), "host": self.target,
                                "container": attributes.get("name") or cid[:12], "action": action, "detail": detail})

    def events_snapshot(self) -> list[dict[str, Any]]:
        """A copy of the recorded events, oldest first, safe while the events thread appends."""
        with self._lock:
            return list(self.events)

    async def _stop_events(self) -> None:
        reader, self._events_reader = self._events_reader, None
        if reader is not None:
            await run_blocking(reader.stop, timeout=3.0)

    async def aclose(self) -> None:
        """Stop the events thread, let in-flight engine calls end (<= ~1 s), close the client."""
        self._stop.set()
        await self._stop_events()
        if isinstance(self._cgroups, RemoteCgroupReader):
            await self._cgroups.aclose()
        with self._lock:
            workers = list(self._workers)
        ends = self.clock.monotonic() + self.timeout
        await run_blocking(lambda: [w.join(max(0.0, ends - self.clock.monotonic())) for w in workers], timeout=self.timeout + 1)
        client, self._client = self._client, None
        if client is not None:
            await run_blocking(client.close, timeout=self.timeout)


class _EventsReader:
    """One daemon thread reading the engine's events for a probe, until stop() closes the response."""

    def __init__(self, probe: ContainersProbe, client: Any) -> None:
        self.probe, self.client = probe, client
        self.stream: Any = None
        self.stopping = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"launchdeck-docker-events-{probe.target}")
        self.thread.start()

    def _run(self) -> None:
        probe = self.probe
        filters: dict[str, Any] = {"type": "container", "event": list(WATCHED)}
        if "label" in probe.spec.filters:
            filters["label"] = probe.spec.filters["label"]
        try:
            stream = self.client.api.events(decode=True, filters=filters, since=probe._events_since)
        except Exception as error:  # the next collect sees the dead thread and starts another
            probe.events_error = describe_docker_error(error, probe.url)
            return
        with self.lock:
            self.stream, stopping = stream, self.stopping
        try:
            for event in () if stopping else stream:
                probe._on_event(event)
        except Exception as error:  # the response was cut: an engine restart, an SSH drop, or stop()
            if not self.stopping:
                probe.events_error = describe_docker_error(error, probe.url)
        finally:
            stream.close()

    def stop(self, wait: float = 2.0) -> None:
        """Close the response (APIClient.close() would not end the read), then join the thread."""
        with self.lock:
            self.stopping, stream = True, self.stream
        if stream is not None:
            stream.close()
        self.thread.join(wait)
