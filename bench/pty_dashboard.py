"""`python -m launchdeck` on a pty of its own, read through a pyte screen: when it first painted, what
its rows said and when, how fast it answered `?` and `r`, and the server's view of each run.
screen_worker is at module level here so the multiprocessing "spawn" child can import it (bench/ is
on the sys.path the child inherits)."""

from __future__ import annotations

import fcntl
import os
import queue
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

from many_targets_report import count, stats
from many_targets_setup import DECK_NAME, HANG_EVERY, KEY_GOAL_MS, TARGETS, hangs, name
from targets_server import first_requests, load_at, sample_summary, server_log

HELP_TITLE = b"launchdeck help"  # the help screen's border title (screens/help.py, both layouts)
REFRESH_NOTE = b"polling every probe now"  # the toast `r` raises (tui/app.py): the cheap key
EMULATOR_NICE = 19  # --emulator-nice: on a machine other work keeps busy, 19 starves the emulator for minutes
ROW = re.compile(r"([●▲✖?…])\s(ok|warn|crit|unknown|wait)\s+(s\d{3})\s+(?:(\d+)ms\b|(\d+(?:\.\d+)?)s\b)?")


def parse_rows(lines: list[str]) -> dict[str, dict]:
    rows = {}
    for line in lines:
        match = ROW.search(line)
        if match:
            ms, seconds = match.group(4), match.group(5)
            latency = int(ms) / 1000 if ms else float(seconds) if seconds else None
            rows[match.group(3)] = {"status": match.group(2), "latency_s": latency, "flap": "↕" in line, "line": line}
    return rows


def summarize_rows(rows: dict[str, dict]) -> dict:
    fast = {n: r for n, r in rows.items() if not hangs(int(n[1:]))}
    slow = {n: r for n, r in rows.items() if hangs(int(n[1:]))}
    latencies = [r["latency_s"] for r in fast.values() if r["latency_s"] is not None]
    return {"rows_seen": len(rows), "fast_with_latency": len(latencies), "fast_latency_s": stats(latencies),
            "fast_not_ok": sorted(f"{n} {r['status']}" for n, r in fast.items() if r["status"] not in ("ok", "wait")),
            "hanging": count(r["status"] for r in slow.values()),
            "flaps": sorted(n for n, r in rows.items() if r["flap"])}


def screen_worker(conn, columns: int, lines: int, nice: int = EMULATOR_NICE) -> None:
    """The terminal emulator, in its own process at nice 19: pyte costs ~2 µs a byte and the first
    200x230 paint is hundreds of kB, CPU the dashboard under test must not lose to its observer.
    Every chunk comes with the time it left the pty, so what it sees is dated by the chunk that
    showed it, however far behind the emulator runs (screen checked every 20 ms of output)."""
    import pyte

    os.nice(nice)
    screen = pyte.Screen(columns, lines)
    stream = pyte.ByteStream(screen)
    at = parsed = 0.0
    state: dict = {"all_landed_at": None, "fast_latencies_at": None, "ever_not_ok": {}, "not_ok_lines": {},
                   "flaps": set(), "gone_at": None, "landed_at": {}, "timeout_at": {}}
    gone: tuple[str, float] | None = None
    rows: dict[str, dict] = {}

    def look() -> None:
        nonlocal rows, gone
        rows = parse_rows(screen.display)
        for n, r in rows.items():
            if r["status"] != "wait":
                state["landed_at"].setdefault(n, at)
            if hangs(int(n[1:])) and "timeout" in r["line"]:
                state["timeout_at"].setdefault(n, at)
            if not hangs(int(n[1:])) and r["status"] not in ("ok", "wait"):
                state["ever_not_ok"].setdefault(n, set()).add(r["status"])
                if len(state["not_ok_lines"]) < 5 and n not in state["not_ok_lines"]:  # what such a row says
                    state["not_ok_lines"][n] = re.sub(r"\s+", " ", r["line"].strip("│ "))[:160]
            if r["flap"]:
                state["flaps"].add(n)
        landed = len(rows) == TARGETS and all(r["status"] != "wait" for r in rows.values())
        if state["all_landed_at"] is None and landed:
            state["all_landed_at"], state["first_cycle"] = at, summarize_rows(rows)
        fast = sum(1 for n, r in rows.items() if not hangs(int(n[1:])) and r["latency_s"] is not None)
        if state["fast_latencies_at"] is None and fast >= TARGETS - TARGETS // HANG_EVERY:
            state["fast_latencies_at"], state["first_180_fast_latencies"] = at, summarize_rows(rows)
        if gone is not None and at >= gone[1] and not any(gone[0] in line for line in screen.display):
            state["gone_at"], gone = at, None

    started = time.process_time()
    while True:
        message = conn.recv()
        if message[0] == "feed":
            at = message[1]
            stream.feed(message[2])
            if at - parsed >= 0.02 or not conn.poll():
                look()
                parsed = at
        elif message[0] == "gone":  # when did this text leave the screen, from this time on
            gone, state["gone_at"] = (message[1], message[2]), None
        elif message[0] == "query":
            look()
            find = message[2] if len(message) > 2 else None
            conn.send({**state, "found": None if find is None else any(find in line for line in screen.display), "ever_not_ok": {n: sorted(s) for n, s in sorted(state["ever_not_ok"].items())},
                       "flaps": sorted(state["flaps"]), "now": summarize_rows(rows), "fed_until": at,
                       "text": "\n".join(line.rstrip() for line in screen.display).strip("\n") if message[1] else "",
                       "emulator_cpu_s": round(time.process_time() - started, 3)})
        elif message[0] == "stop":
            return


class Dashboard:
    """`python -m launchdeck` on a pty of its own (its controlling terminal, as under sshd or tmux).
    A reader thread empties the pty as fast as it is written, dates every chunk, notices a watched
    string as the chunk carrying it arrives, and queues the chunk for the emulator process."""

    def __init__(self, python: str, env: dict[str, str], config: Path, size: tuple[int, int]) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.conn, theirs = context.Pipe()
        self.emulator = context.Process(target=screen_worker, args=(theirs, *size, EMULATOR_NICE), daemon=True)
        self.emulator.start()
        theirs.close()
        self.outbox: queue.Queue = queue.Queue()
        self.bytes = 0
        self.needle: bytes | None = None
        self.tail = b""
        self.seen_at: float | None = None
        self.armed_at = 0.0  # chunks read before this (monotonic) never count as an answer
        self.quit_at: float | None = None
        self.seen = threading.Event()

        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": str(size[0]), "LINES": str(size[1])}
        env.pop("TEXTUAL", None)  # no devtools

        def controlling_tty() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.started = time.monotonic()
        self.proc = subprocess.Popen([python, "-m", "launchdeck", "--config", str(config)], stdin=slave,
                                     stdout=slave, stderr=slave, env=env, preexec_fn=controlling_tty, close_fds=True)
        os.close(slave)
        self.master = master
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=self._forward, daemon=True)]
        for thread in self.threads:
            thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:  # EIO: the dashboard's side closed
                data = b""
            if not data:
                self.outbox.put(None)
                return
            now = time.monotonic()
            self.bytes += len(data)
            self.outbox.put(("feed", now, data))
            needle = self.needle
            if needle is not None and not self.seen.is_set() and now >= self.armed_at:
                self.tail = self.tail[-len(needle):] + data
                if needle in self.tail:
                    self.seen_at, self.needle = now, None
                    self.seen.set()

    def _forward(self) -> None:  # the only sender on the pipe: chunks and requests stay in order
        while (message := self.outbox.get()) is not None:
            self.conn.send(message)

    def watch(self, needle: bytes) -> None:
        self.seen.clear()
        self.seen_at, self.tail = None, b""
        self.armed_at = time.monotonic()
        self.needle = needle

    def query(self, text: bool = False, find: str | None = None) -> dict:
        self.outbox.put(("query", text, find))
        if not self.conn.poll(60):
            raise SystemExit(f"the terminal emulator process stopped answering (alive: {self.emulator.is_alive()}, "
                             f"exit code {self.emulator.exitcode})")
        return self.conn.recv()

    def wait_gone(self, text: str, since: float, limit: float = 10.0) -> float | None:
        """When (monotonic, dated by the pty chunk) `text` left the emulated screen at or after `since`."""
        self.outbox.put(("gone", text, since))
        while time.monotonic() - since < limit:  # the emulator may run behind: wait for its word
            state = self.query()
            if state["gone_at"] is not None:
                return state["gone_at"]
            time.sleep(0.02)
        return None

    def press(self, key: bytes, needle: bytes, close: bytes | None = None) -> dict:
        """Write `key`; the latency is until the first pty chunk carrying `needle` (the reader thread
        dates chunks as they leave the pty). `close` (escape) then dismisses what the key opened and
        closed_ms is until the needle left the emulated screen. The needle must not be on screen
        before the key (an earlier toast still up would answer for it): waited for, up to 5 s."""
        text = needle.decode()
        press: dict = {"key": key.decode(errors="replace")}
        waited = time.monotonic()
        if self.query(find=text)["found"]:
            press["waited_for_previous_ms"] = round(1000 * ((self.wait_gone(text, waited, 5.0) or time.monotonic())
                                                            - waited), 1)
        self.watch(needle)
        sent = time.monotonic()
        os.write(self.master, key)
        shown = self.seen.wait(5.0)
        press.update({"at_s": round(sent - self.started, 3), "sent": sent,
                      "latency_ms": round(1000 * (self.seen_at - sent), 1) if shown else None})
        if close is not None:
            sent = time.monotonic()
            os.write(self.master, close)
            gone = self.wait_gone(text, sent)
            press["closed_ms"] = None if gone is None else round(1000 * (gone - sent), 1)  # with Textual's escape delay
            press["closed_at"] = gone
        return press

    def press_help(self) -> dict:
        """`?` → the help title in the output (the latency); escape → the help gone from the screen."""
        return self.press(b"?", HELP_TITLE, close=b"\x1b")

    def press_refresh(self) -> dict:
        """`r` → the "polling every probe now" toast in the output; it leaves by itself after 2 s."""
        return self.press(b"r", REFRESH_NOTE)

    def children(self) -> list[int]:
        """The dashboard's own child processes (the engine's collecting process in process mode)."""
        found = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):  # a child belongs to the thread that started it
            try:
                found += [int(pid) for pid in (task / "children").read_text().split()]
            except OSError:  # the thread ended meanwhile
                continue
        return found

    def quit(self) -> dict:
        children = self.children()  # each must be gone once the dashboard is
        self.quit_at = time.monotonic()
        try:
            os.write(self.master, b"q")
        except OSError:
            pass
        how = "q"
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            how, code = "killed", None
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)  # its own session: the group is the dashboard alone
                    code = self.proc.wait(timeout=3)
                    break
                except subprocess.TimeoutExpired:
                    continue
                except ProcessLookupError:
                    code = self.proc.wait()
                    break
        os.close(self.master)
        for thread in self.threads:
            thread.join(timeout=5)
        try:
            self.conn.send(("stop",))
        except OSError:  # the emulator is gone already
            pass
        self.emulator.join(timeout=5)
        if self.emulator.is_alive():
            self.emulator.kill()
            self.emulator.join(timeout=5)
        self.conn.close()
        time.sleep(0.2)  # a child told by the end of its pipe or PR_SET_PDEATHSIG has this long to go
        left = [pid for pid in children if b"launchdeck" in _cmdline(pid)]
        return {"exit": code, "quit_by": how, "children_at_quit": len(children), "children_left": left}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone
        return b""


def dated(press: dict, painted: float, phase: str) -> dict:
    """A press with its times after the first paint instead of raw monotonic stamps."""
    press = dict(press)
    sent, closed = press.pop("sent"), press.pop("closed_at", None)
    press["at_s_after_paint"] = round(sent - painted, 3)
    if closed is not None:
        press["open_until_s_after_paint"] = round(closed - painted, 3)
    return press | {"phase": phase}


def key_summary(presses: list[dict]) -> dict:
    answered = [k["latency_ms"] for k in presses if k["latency_ms"] is not None]
    return {"first_cycle": presses[0]["latency_ms"] if presses else None,
            "all": stats(answered, 1) if answered else None, "unanswered": len(presses) - len(answered),
            "over_goal": sum(1 for k in presses if k["latency_ms"] is None or k["latency_ms"] >= KEY_GOAL_MS)}


def first_paint(deck: Dashboard, result: dict) -> float | None:
    deck.watch(DECK_NAME.encode())
    if not deck.seen.wait(30.0):
        result["error"] = "no first paint within 30 s: " + deck.query(text=True)["text"][-3000:]
        return None
    result["first_paint_s"] = round(deck.seen_at - deck.started, 3)
    return deck.seen_at


def with_server_side(result: dict, port: int, painted: float | None, presses: list[dict],
                     quit_at: float | None) -> list:
    """After the dashboard quit: the server's log of the run; each press gets what was in flight."""
    try:
        log = server_log(port)
    except OSError as error:
        result["server_log_error"] = str(error)
        return []
    result["server_side"] = sample_summary(log, quit_at)
    if painted is not None:
        first = first_requests(log)
        if first:
            result["server_side"]["first_request_s_after_paint"] = round(min(first.values()) - painted, 3)
        for press in presses:
            press["engine_load"] = load_at(log, painted + press["at_s_after_paint"])
        times = [t - painted for t, _, event, _ in log if event == "request"]
        if times:  # the polling as the server saw it: requests in each half second, from the first one
            start = 0.5 * int(min(times) // 0.5)
            bins = [0] * (int((max(times) - start) // 0.5) + 1)
            for t in times:
                bins[int((t - start) // 0.5)] += 1
            result["server_side"]["requests_per_half_second"] = {"from_s_after_paint": start, "counts": bins}
    return log


def hanging_timeouts(state: dict, requests: dict[str, float], painted: float, help_open: list[list[float]]) -> dict:
    """When each hanging row first said "timeout", after the first paint and after its own first
    request reached the server (the sample's real start), and the first cycle end to end."""
    rows = {}
    for n in (name(i) for i in range(TARGETS) if hangs(i)):
        shown, asked = state["timeout_at"].get(n), requests.get(n)
        rows[n] = {"timeout_shown_s_after_paint": None if shown is None else round(shown - painted, 3),
                   "first_request_s_after_paint": None if asked is None else round(asked - painted, 3),
                   "shown_s_after_its_request": None if shown is None or asked is None else round(shown - asked, 3)}
    shown = [r["timeout_shown_s_after_paint"] for r in rows.values() if r["timeout_shown_s_after_paint"] is not None]
    own = [r["shown_s_after_its_request"] for r in rows.values() if r["shown_s_after_its_request"] is not None]
    landed = list(state["landed_at"].values())
    cycle_start = min(requests.values()) if requests else None
    last_timeout = max(state["timeout_at"].values()) if len(state["timeout_at"]) == len(rows) else None
    return {
        "rows": rows,
        "never_timed_out": sorted(n for n, r in rows.items() if r["timeout_shown_s_after_paint"] is None),
        "shown_s_after_paint": stats(shown, 3),
        "shown_s_after_its_request": stats(own, 3),
        "first_request_s_after_paint": None if cycle_start is None else round(cycle_start - painted, 3),
        "cycle_s_first_request_to_last_timeout": None if cycle_start is None or last_timeout is None
        else round(last_timeout - cycle_start, 3),
        "cycle_s_first_request_to_all_landed": None if cycle_start is None or len(landed) < TARGETS
        else round(max(landed) - cycle_start, 3),
        "help_open_s_after_paint": help_open,
        "note": "a row is dated by the pty chunk that first showed it; the help screen over the dashboard while a "
                "timeout lands can delay what is on screen (help_open_s_after_paint: [key sent, help gone])",
    }


def measure_tui(python: str, env: dict[str, str], config: Path, size: tuple[int, int], key_window: float,
                key_every: float, port: int) -> dict:
    """The full-size run (every row on screen): latencies, warns, flaps, when the cycle ended; `?`
    right after the first paint and every ~key_every s until key_window after it."""
    server_log(port)  # this run's requests only
    deck = Dashboard(python, env, config, size)
    result: dict = {"size": f"{size[0]}x{size[1]}"}
    try:
        painted = first_paint(deck, result)
        if painted is None:
            return result
        keys = [dated(deck.press_help(), painted, "first cycle (right after the first paint)")]
        while time.monotonic() < painted + 20.0:  # the first cycle: every row out of "… wait"
            state = deck.query()
            if state["all_landed_at"] is not None or deck.proc.poll() is not None:
                break
            time.sleep(0.1)
        mid_run = 0  # until key_window after the paint, and at least 4 even if the first cycle never ended
        while (time.monotonic() < painted + key_window or mid_run < 4) and deck.proc.poll() is None:
            keys.append(dated(deck.press_help(), painted, "mid-run"))
            mid_run += 1
            time.sleep(max(0.0, key_every - 0.5))
        state = deck.query(text=True)
        for key in ("all_landed_at", "fast_latencies_at"):  # dated by the chunk that showed them
            result[key.replace("_at", "_s_after_paint")] = round(state[key] - painted, 3) if state[key] else None
        # the first cycle: the screen when the last row left "… wait" (fast rows that timed out show no latency)
        result["first_cycle"] = state.get("first_cycle") or {
            **state["now"], "note": "some rows still waiting for their first poll 20 s after the first paint"}
        result["first_180_fast_latencies"] = state.get("first_180_fast_latencies")
        result["final"] = state["now"]
        result["fast_rows_ever_not_ok"] = state["ever_not_ok"]
        result["fast_rows_not_ok_said"] = state["not_ok_lines"]
        result["rows_ever_flapping"] = state["flaps"]
        result["keys"] = keys
        result["key_latency_ms"] = key_summary(keys)
        help_open = [[k["at_s_after_paint"], k.get("open_until_s_after_paint")] for k in keys]
        result["hanging_timeouts"] = hanging_timeouts(state, {}, painted, help_open)
        result["terminal_bytes"] = deck.bytes
        result["emulator_cpu_s"] = state["emulator_cpu_s"]
        result["screen_at_end"] = state["text"]
        if deck.proc.poll() is not None:
            result["error"] = f"the dashboard exited early ({deck.proc.returncode}): " + state["text"][-3000:]
        return result
    finally:
        result["process"] = deck.quit()
        log = with_server_side(result, port, result.get("first_paint_s") and painted, result.get("keys", []),
                               deck.quit_at)
        if "hanging_timeouts" in result and log:  # the server's log, once the dashboard stopped asking
            result["hanging_timeouts"] = hanging_timeouts(state, first_requests(log), painted,
                                                          result["hanging_timeouts"]["help_open_s_after_paint"])


def measure_keys(python: str, env: dict[str, str], config: Path, size: tuple[int, int], presses: int,
                 every: float, port: int) -> dict:
    """The key latency at a usual size (only the visible rows are drawn), same 200-target deck:
    `?` right after the first paint (the first cycle) then `presses` more, one every `every` s;
    `r` ~every/2 after each `?` (the toast must be gone from the screen before the next `r`).
    Each press is annotated with what the engine had in flight then, from the server's log."""
    server_log(port)  # this run's requests only
    deck = Dashboard(python, env, config, size)
    result: dict = {"size": f"{size[0]}x{size[1]}", "targets": TARGETS}
    try:
        painted = first_paint(deck, result)
        if painted is None:
            return result
        helps = [dated(deck.press_help(), painted, "first cycle (right after the first paint)")]
        refreshes = [dated(deck.press_refresh(), painted, "first cycle (after ? was closed)")]
        for index in range(1, presses + 1):
            due = painted + index * every
            time.sleep(max(0.0, due - time.monotonic()))
            if deck.proc.poll() is not None:
                break
            helps.append(dated(deck.press_help(), painted, "mid-run"))
            time.sleep(max(0.0, due + every / 2 - time.monotonic()))
            refreshes.append(dated(deck.press_refresh(), painted, "mid-run"))
        state = deck.query(text=True)
        result.update({
            "keys_help": helps, "key_help_ms": key_summary(helps),
            "keys_refresh": refreshes, "key_refresh_ms": key_summary(refreshes),
            "visible_rows": state["now"], "fast_rows_ever_not_ok": state["ever_not_ok"],
            "rows_ever_flapping": state["flaps"], "terminal_bytes": deck.bytes,
            "emulator_cpu_s": state["emulator_cpu_s"], "screen_at_end": state["text"],
        })
        if deck.proc.poll() is not None:
            result["error"] = f"the dashboard exited early ({deck.proc.returncode}): " + state["text"][-3000:]
        return result
    finally:
        result["process"] = deck.quit()
        with_server_side(result, port, result.get("first_paint_s") and painted,
                         result.get("keys_help", []) + result.get("keys_refresh", []), deck.quit_at)


def measure_key_baseline(python: str, env: dict[str, str], config: Path, size: tuple[int, int], targets: int,
                         note: str) -> dict:
    """`?` then `r` on an idle deck: what the help screen and the toast cost at this size with no
    engine load. On 3 targets, what no engine change can remove; on the 200 targets polled once
    (refresh 1 h), what 200 rows in the DOM cost the UI with no reading arriving. `r` polls every
    probe (that is what it is for), so its presses come last and are idle only until they land."""
    deck = Dashboard(python, env, config, size)
    result: dict = {"targets": targets, "size": f"{size[0]}x{size[1]}", "note": note}
    try:
        painted = first_paint(deck, result)
        if painted is None:
            return result
        time.sleep(3.0)  # idle: the first poll landed, nothing pending

        def pressed(press: dict) -> dict:
            time.sleep(0.3)  # what the previous press left to do (a focus restyle) is not this one's
            return dated(press, painted, "idle")

        presses = [pressed(deck.press_help()) for _ in range(4)]
        answered = [p["latency_ms"] for p in presses if p["latency_ms"] is not None]
        result.update({"presses": presses, "latency_ms": stats(answered, 1) if answered else None})
        refreshes = [pressed(deck.press_refresh()) for _ in range(2)]
        answered = [p["latency_ms"] for p in refreshes if p["latency_ms"] is not None]
        result.update({"refresh_presses": refreshes, "refresh_latency_ms": stats(answered, 1) if answered else None})
        return result
    finally:
        result["process"] = deck.quit()
