"""The loopback HTTP server of the many_targets bench, in a process of its own (it stops when its stdin
closes): 200 paths, every 10th hanging, and a log of when each request arrived and each hanging one
was given up, so a run knows what the engine really had in flight, and when; curl as the truth.
start_server runs this file (`python bench/targets_server.py`); `many_targets.py --serve` serves too."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time

from many_targets_report import stats
from many_targets_setup import HANG_EVERY, TARGETS, TIMEOUT, hangs, name

SERVER_LIFETIME = 600.0  # s: the server stops by itself even if this process dies without a word


def serve() -> None:
    """Answer `200 ok` on /p<NNN>, or read the request and never answer when NNN hangs; keep-alive.
    Every request is logged with its arrival (time.monotonic(): one clock for every process on the
    machine), and a hanging one again when the client gives up and closes; GET /__log answers that
    log as JSON and empties it: when a sample really started, and when its timeout really ended it.
    Prints the port on stdout; stops when stdin closes (the bench ended) or after SERVER_LIFETIME."""
    log: list[tuple[float, str, str, int]] = []
    connections = iter(range(1 << 62))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = next(connections)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.monotonic()
                path = head.split(b" ", 2)[1]
                if path == b"/__log":
                    body = json.dumps(log).encode()
                    log.clear()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)
                    await writer.drain()
                    continue
                log.append((arrived, path.decode(errors="replace"), "request", connection))
                match = re.fullmatch(rb"/p(\d+)", path)
                if match and hangs(int(match.group(1))):
                    try:
                        while await reader.read(4096):  # until the client gives up and closes
                            pass
                    finally:
                        log.append((time.monotonic(), path.decode(errors="replace"), "closed", connection))
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)  # 200 connects at once
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        closed = loop.run_in_executor(None, sys.stdin.buffer.read)
        try:
            await asyncio.wait_for(closed, SERVER_LIFETIME)
        except TimeoutError:
            pass
        server.close()
        os._exit(0)  # the executor thread may still block on stdin

    asyncio.run(main())


def start_server() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise SystemExit(f"the loopback server did not start: {line!r}")
    return proc, int(line)


def server_log(port: int) -> list[tuple[float, str, str, int]]:
    """What the server saw since the last call (and forget it): [(monotonic, path, request|closed,
    connection number)]."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    with opener.open(f"http://127.0.0.1:{port}/__log", timeout=10) as answer:
        return [tuple(item) for item in json.loads(answer.read())]


def first_requests(log: list[tuple[float, str, str, int]]) -> dict[str, float]:
    """When each target's first sample reached the server: {s000: monotonic}."""
    first: dict[str, float] = {}
    for at, path, event, _ in log:
        match = re.fullmatch(r"/p(\d+)", path)
        if match and event == "request":
            first.setdefault(name(int(match.group(1))), at)
    return first


def hanging_samples(log: list[tuple[float, str, str, int]]) -> list[tuple[float, float | None]]:
    """Every sample of a hanging target as the server saw it: (request arrived, client closed or
    None if it was still open when the log was read). A hanging request is the last on its connection."""
    began: dict[int, float] = {}
    samples: list[tuple[float, float | None]] = []
    for at, path, event, connection in sorted(log):
        match = re.fullmatch(r"/p(\d+)", path)
        if not match or not hangs(int(match.group(1))):
            continue
        if event == "request":
            began[connection] = at
        elif connection in began:
            samples.append((began.pop(connection), at))
    samples += [(at, None) for at in began.values()]
    return sorted(samples)


def sample_summary(log: list[tuple[float, str, str, int]], quit_at: float | None = None) -> dict:
    """How long the client held each hanging request open (its timeout, as enforced) and the requests;
    samples still open when the dashboard was told to quit are cut short by it and left out."""
    samples = hanging_samples(log)
    cut = [s for s in samples if quit_at is not None and (s[1] is None or s[1] >= quit_at)]
    samples = [s for s in samples if s not in cut]
    held = [closed - began for began, closed in samples if closed is not None]
    return {"requests": sum(1 for item in log if item[2] == "request"), "hanging_samples": len(samples),
            "hanging_cut_by_quit": len(cut),
            "hanging_held_under_timeout": sum(1 for h in held if h < TIMEOUT - 0.05),
            "hanging_held_s": stats(held, 3), "hanging_still_open_at_end": sum(1 for s in samples if s[1] is None)}


def load_at(log: list[tuple[float, str, str, int]], at: float) -> dict:
    """What the engine had in flight when a key was pressed at `at` (monotonic), from the server's side."""
    return {"hanging_in_flight": sum(1 for began, closed in hanging_samples(log)
                                     if began <= at and (closed is None or closed > at)),
            "requests_in_last_1s": sum(1 for t, _, event, _ in log if event == "request" and at - 1.0 < t <= at),
            "requests_in_next_0_5s": sum(1 for t, _, event, _ in log if event == "request" and at < t <= at + 0.5)}


def stop_server(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# ---------------------------------------------------------------- curl: the source of truth


def curl_baseline(port: int, count: int) -> dict:
    fast = [i for i in range(TARGETS) if not hangs(i)][:: max(1, (TARGETS - TARGETS // HANG_EVERY) // count)][:count]
    times = []
    for index in fast:
        out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}",
                              f"http://127.0.0.1:{port}/p{index:03d}"], capture_output=True, text=True, timeout=10)
        times.append(float(out.stdout))
    started = time.monotonic()  # one hanging path, to show it really hangs
    hang = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "1", f"http://127.0.0.1:{port}/p000"],
                          capture_output=True, timeout=10)
    return {"paths": len(times), "latency_s": stats(times),
            "hanging_path": {"curl_exit": hang.returncode, "waited_s": round(time.monotonic() - started, 3),
                             "note": "curl -m 1: exit 28 is its timeout"}}


if __name__ == "__main__":  # start_server passes --serve (an idle server, to others_running); either way it serves
    serve()
