"""Cost of watching 30 busy containers: launchdeck's ContainersProbe vs `docker stats`, engine included.

Starts N labelled busy containers (`sh -c 'while :; do :; done'`, each throttled with --cpus so two
cores are not saturated), then measures, one after the other over equal windows:
  idle                    nobody watching (the engine's own baseline, for reference)
  launchdeck              ContainersProbe in a subprocess, one collect every 2 s (start to start)
  launchdeck engine-only  the same with read_cgroups=False: engine one-shot stats, no files
  remote (ssh, files)     the probe for an SSH [[hosts]] entry through the real sshd (.services/env.sh):
                          list / inspect / events over the forwarded socket, the numbers from the
                          host's cgroup and /proc files by one awk command per refresh
  remote engine-only      the same host with read_cgroups=False: the remote path before issue 14
  streams                 a rejected design: a thread per container reading stats(stream=True)
  docker stats            `docker stats <ids>` streaming to /dev/null
CPU = utime+stime from /proc of the measured process PLUS dockerd, containerd, every
containerd-shim and, for the remote rows, the tool's own sshd session with all it runs (found by its
TCP connection; sshd_cpu: the login shell, the sh loop, each refresh's awk), over the window. Then per-refresh latency of the probe for 30 and 50 containers.
Prints a table, writes bench/results/containers.json, removes exactly its containers.

    .venv/bin/python bench/containers.py [--containers 30] [--window 20] [--cpus 0.02] [--repeat 3] [--quick]

--quick (for `make bench`): one round of 15 s windows, no streams row, latency at 30 containers only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
TICKS = os.sysconf("SC_CLK_TCK")
IMAGE = "launchdeck-test/busybox:1"
LABEL_KEY = "launchdeck.bench"
SSH_PORT = 2222  # scripts/services.sh's sshd (the remote rows' host)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime of every thread


def _processes() -> dict[int, tuple[str, int, list[int]]]:
    """pid -> (comm, ppid, [utime, stime, cutime, cstime]) of every process now."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            head, tail = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)
        except OSError:  # exited while we looked
            continue
        fields = tail.split()
        found[int(entry)] = (head.partition("(")[2], int(fields[1]), [int(v) for v in fields[11:15]])
    return found


def engine_pids() -> list[int]:
    """dockerd, containerd and the shims running now."""
    return [pid for pid, (comm, _, _) in _processes().items()
            if comm in ("dockerd", "containerd") or comm.startswith("containerd-shim")]


def total_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # a shim that exited mid-window: its time is lost, say so in the numbers
            continue
    return total


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed while we looked
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def sshd_session_of(client_pid: int, port: int) -> int | None:
    """The sshd process serving `client_pid`'s SSH connection to 127.0.0.1:`port` (its [priv] monitor):
    found through the TCP socket pair in /proc/net/tcp, so other sessions on this shared sshd are not
    charged to the tool measured."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    mine = _socket_inodes(client_pid)
    ports = {row[1].split(":")[1] for row in rows if row[9] in mine and int(row[2].split(":")[1], 16) == port}
    server = {row[9] for row in rows if int(row[1].split(":")[1], 16) == port and row[2].split(":")[1] in ports}
    table = _processes()
    for pid, (comm, ppid, _) in table.items():
        if comm == "sshd" and server & _socket_inodes(pid):
            while table.get(ppid, ("", 0))[0] == "sshd" and table[ppid][1] != 1 and \
                    table.get(table[ppid][1], ("",))[0] == "sshd":
                pid, ppid = ppid, table[ppid][1]  # up to the session's topmost sshd below the listener
            return pid
    return None


def sshd_cpu(session: int | None) -> float:
    """CPU s of one sshd session and everything under it (the login shell, the sh loop, each refresh's
    awk): utime+stime+cutime+cstime of each live process in the tree, so a child that ended is
    counted once, in its parent's cutime."""
    if session is None:
        return 0.0
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [session]
    while todo:
        pid = todo.pop()
        if pid in table:
            total += sum(table[pid][2])
            todo += children.get(pid, ())
    return total / TICKS


def measure(name: str, argv: list[str] | None, window: float, settle: float) -> dict:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) if argv else None
    try:
        time.sleep(settle)
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{name} exited early: {proc.stderr.read().decode()[-2000:]}")
        engine = engine_pids()
        session = sshd_session_of(proc.pid, SSH_PORT) if proc is not None else None
        e0, m0, t0 = total_cpu(engine) + sshd_cpu(session), cpu_seconds(proc.pid) if proc else 0.0, time.monotonic()
        time.sleep(window)
        e1, m1, t1 = total_cpu(engine) + sshd_cpu(session), cpu_seconds(proc.pid) if proc else 0.0, time.monotonic()
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # `docker stats` ignores SIGTERM while streaming
                proc.kill()
                proc.wait(timeout=5)
    elapsed = t1 - t0
    return {"tool": name, "window_s": round(elapsed, 2), "sshd_session_pid": session,
            "engine_cpu_pct": round(100 * (e1 - e0) / elapsed, 2),
            "process_cpu_pct": round(100 * (m1 - m0) / elapsed, 2),
            "total_cpu_pct": round(100 * ((e1 - e0) + (m1 - m0)) / elapsed, 2)}


# ---------------------------------------------------------------- children


def ssh_host():
    """The real sshd of scripts/services.sh, as a [[hosts]] entry (settings from .services/env.sh)."""
    from launchdeck.core.config import HostConfig

    env = {}
    for line in (HERE.parent / ".services" / "env.sh").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[7:].partition("=")
            env[key] = value.strip("'")
    return HostConfig(name="vps1", address=env["LAUNCHDECK_SSH_HOST"], port=int(env["LAUNCHDECK_SSH_PORT"]),
                      user=env["LAUNCHDECK_SSH_USER"], key=env["LAUNCHDECK_SSH_KEY"],
                      known_hosts=env["LAUNCHDECK_SSH_KNOWN_HOSTS"], connect_timeout=10)


MODES = {"local": "local (cgroup files)", "engine": "engine only", "remote": "remote (ssh, files)",
         "remote-engine": "remote engine-only"}


def make_probe(label: str, interval: float, mode: str):
    """(probe, connections or None) for one of MODES."""
    from launchdeck.core.config import ContainersConfig
    from launchdeck.probes.containers.probe import ContainersProbe
    from launchdeck.run.ssh import Connections

    files = None if mode in ("local", "remote") else False
    if mode.startswith("remote"):
        connections = Connections()
        spec = ContainersConfig(host="vps1", filters={"label": [label]}, timeout=15)
        return ContainersProbe(spec, ssh_host(), interval, connections, read_cgroups=files), connections
    return ContainersProbe(ContainersConfig(filters={"label": [label]}), None, interval, read_cgroups=files), None


def child_launchdeck(label: str, interval: float, out: str, mode: str) -> None:
    stop = asyncio.Event()
    latencies: list[float] = []
    file_failures: list[str] = []  # refreshes whose cgroup-file read failed (the engine answered instead)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        probe, connections = make_probe(label, interval, mode)
        try:
            while not stop.is_set():
                started = time.monotonic()
                await probe.collect()
                latencies.append(time.monotonic() - started)
                if probe.files_error or probe.stats_note:
                    file_failures.append(probe.files_error or probe.stats_note)
                try:
                    await asyncio.wait_for(stop.wait(), max(0.0, interval - latencies[-1]))
                except TimeoutError:
                    continue
        finally:
            await probe.aclose()
            if connections is not None:
                await connections.close()
        Path(out).write_text(json.dumps({"latencies": latencies, "file_failures": file_failures}))

    asyncio.run(main())


def child_streams(label: str) -> None:
    import docker

    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=10, max_pool_size=128)
    latest: dict[str, dict] = {}

    def read(cid: str) -> None:
        for sample in client.api.stats(cid, stream=True, decode=True):
            latest[cid] = sample

    for row in client.api.containers(filters={"label": label}):
        threading.Thread(target=read, args=(row["Id"],), daemon=True).start()
    threading.Event().wait()  # until SIGTERM ends the process


# ---------------------------------------------------------------- latency


async def latencies(label: str, polls: int, interval: float, mode: str) -> dict:
    probe, connections = make_probe(label, interval, mode)
    try:
        started = time.monotonic()
        first = await probe.collect()
        first_s = time.monotonic() - started
        times = []
        for _ in range(polls):
            await asyncio.sleep(interval)
            started = time.monotonic()
            batch = await probe.collect()
            times.append(time.monotonic() - started)
        without_cpu = sum(1 for _, outcome in batch if outcome.values.get("cpu_percent") is None)
    finally:
        await probe.aclose()
        if connections is not None:
            await connections.close()
    return {"containers": len(first), "mode": MODES[mode],
            "first_collect_s": round(first_s, 3),
            "refresh_s": {"median": round(statistics.median(times), 3), "max": round(max(times), 3),
                          "all": [round(t, 3) for t in times]},
            "readings_without_cpu": without_cpu}


# ---------------------------------------------------------------- main


def start_containers(client, label: dict[str, str], count: int, cpus: float, offset: int = 0) -> None:
    for index in range(offset, offset + count):
        client.containers.run(IMAGE, ["sh", "-c", "while :; do :; done"], detach=True, labels=label,
                              nano_cpus=int(cpus * 1e9), name=f"ld-bench-{label[LABEL_KEY][:8]}-{index}")


def run(args: argparse.Namespace) -> dict:
    import docker

    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=60)
    value = uuid.uuid4().hex
    label = {LABEL_KEY: value}
    selector = f"{LABEL_KEY}={value}"
    me = [sys.executable, __file__]
    results: dict = {"containers": args.containers, "cpus_per_container": args.cpus, "window_s": args.window,
                     "interval_s": args.interval, "cores": os.cpu_count(),
                     "engine": client.version().get("Version"), "load_before": os.getloadavg()[0], "runs": []}
    lat_file = f"/tmp/ld-bench-latency-{value}.json"
    try:
        start_containers(client, label, args.containers, args.cpus)
        ids = [c.id for c in client.containers.list(filters={"label": selector})]
        time.sleep(3)
        child = [*me, "--child", "launchdeck", "--label", selector, "--interval", str(args.interval), "--out", lat_file]
        plan = [("idle", None), ("launchdeck", child), ("launchdeck engine-only", [*child, "--mode", "engine"]),
                ("remote (ssh, files)", [*child, "--mode", "remote"]),
                ("remote engine-only", [*child, "--mode", "remote-engine"]),
                ("streams", [*me, "--child", "streams", "--label", selector]),
                ("docker stats", ["docker", "stats", *ids])]
        if args.quick:
            plan = [step for step in plan if step[0] != "streams"]
        for round_ in range(args.repeat):
            for name, argv in plan:
                row = measure(name, argv, args.window, settle=4.0 if argv else 1.0)
                row["round"] = round_ + 1
                if argv is not None and argv[:4] == child[:4]:  # the child's own refresh times in the window
                    child_report = json.loads(Path(lat_file).read_text())
                    times = child_report["latencies"]
                    row["file_read_failures"] = child_report["file_failures"][:5]
                    row["refresh_s_median"] = round(statistics.median(times[1:] or times), 3)
                    row["first_collect_s"] = round(times[0], 3)
                results["runs"].append(row)
                print(f"  {name:23s} round {round_ + 1}: engine {row['engine_cpu_pct']:5.2f} + process "
                      f"{row['process_cpu_pct']:5.2f} = {row['total_cpu_pct']:5.2f} % of a core", flush=True)
        results["latency"] = [asyncio.run(latencies(selector, 5, args.interval, mode)) for mode in MODES]
        if not args.quick:
            start_containers(client, label, 50 - args.containers, args.cpus, offset=args.containers)
            time.sleep(3)
            results["latency"] += [asyncio.run(latencies(selector, 5, args.interval, mode)) for mode in MODES]
    finally:
        Path(lat_file).unlink(missing_ok=True)
        client.close()
        remove_containers(selector)
    return results


def remove_containers(selector: str, patience: float = 120.0) -> None:
    """Remove exactly this run's containers, waiting out an engine restart (the engine is shared)."""
    import docker

    deadline = time.monotonic() + patience
    while True:
        try:
            client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=60)
            try:
                for container in client.containers.list(all=True, filters={"label": selector}):
                    container.remove(force=True)
                return
            finally:
                client.close()
        except (docker.errors.DockerException, OSError) as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"could not remove the containers labelled {selector}: {error}") from error
            print(f"  engine not answering ({error}); retrying the clean-up", flush=True)
            time.sleep(2)


def summarize(results: dict) -> None:
    mean = {}  # the median of rounds: robust to a burst of someone else's engine work in one window
    for tool in dict.fromkeys(r["tool"] for r in results["runs"]):
        rows = [r for r in results["runs"] if r["tool"] == tool]
        mean[tool] = {key: round(statistics.median(r[key] for r in rows), 2)
                      for key in ("engine_cpu_pct", "process_cpu_pct", "total_cpu_pct")}
    docker_total = mean["docker stats"]["total_cpu_pct"]
    idle = mean["idle"]["total_cpu_pct"]
    results["median_of_rounds"] = mean
    ratio = lambda tool: round(mean[tool]["total_cpu_pct"] / docker_total, 3)  # noqa: E731
    above = lambda tool: round((mean[tool]["total_cpu_pct"] - idle) / (docker_total - idle), 3)  # noqa: E731
    results["ratio_launchdeck_vs_docker_stats"] = ratio("launchdeck")
    results["ratio_engine_only_vs_docker_stats"] = ratio("launchdeck engine-only")
    results["ratio_remote_vs_docker_stats"] = ratio("remote (ssh, files)")
    results["ratio_remote_engine_only_vs_docker_stats"] = ratio("remote engine-only")
    if "streams" in mean:
        results["ratio_streams_vs_docker_stats"] = ratio("streams")
    results["ratio_above_idle_launchdeck_vs_docker_stats"] = above("launchdeck")
    results["ratio_above_idle_remote_vs_docker_stats"] = above("remote (ssh, files)")
    print(f"\n{results['containers']} busy containers (--cpus {results['cpus_per_container']}), "
          f"{results['window_s']:.0f} s windows, {results['cores']} cores, engine {results['engine']}, "
          f"load {results.get('load_before', '?')} before")
    print(f"{'':24s}{'engine %':>10s}{'process %':>11s}{'total %':>9s}{'vs docker stats':>17s}   "
          "(% of one core, median of rounds; engine = dockerd + containerd + shims + sshd)")
    for tool, row in mean.items():
        print(f"{tool:24s}{row['engine_cpu_pct']:10.2f}{row['process_cpu_pct']:11.2f}{row['total_cpu_pct']:9.2f}"
              f"{row['total_cpu_pct'] / docker_total:16.2f}x")
    for row in results["latency"]:
        print(f"refresh latency, {row['containers']} containers, {row['mode']}: first collect {row['first_collect_s']:.2f} s, "
              f"then median {row['refresh_s']['median']:.2f} s, max {row['refresh_s']['max']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=30)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--cpus", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["launchdeck", "streams"])
    parser.add_argument("--label")
    parser.add_argument("--out")
    parser.add_argument("--mode", choices=list(MODES), default="local")
    parser.add_argument("--quick", action="store_true", help="one round of 15 s windows, no streams row")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "containers.json")
    args = parser.parse_args()
    if args.child == "launchdeck":
        return child_launchdeck(args.label, args.interval, args.out, args.mode)
    if args.child == "streams":
        return child_streams(args.label)
    if args.quick:
        args.repeat, args.window = 1, min(args.window, 15.0)
    results = run(args)
    summarize(results)
    out = args.results
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
