"""The headless engine: probes on their own event loop and thread, the live state, the event log.

Every view (the TUI, `check`, and the coming wall, browser view and timeline) reads from one
Engine. It owns the latest reading per target, the verdict, per-target tracks and history, the
checklist session, dump verifications and the event log; it tells its listeners what changed with
frozen notices (engine/notices.py). Nothing here imports Textual.

Why a thread of its own: latency is timed where the request runs (DESIGN rule 8). On the UI's loop,
a compose, a big screen or a resize was charged to every service in flight (a healthy 7 ms endpoint
read 609 ms at start-up). Here a busy UI costs the engine at most a GIL hand-off, and a sample taken
while the engine's own loop stalled is re-taken (engine/pacing.py).

Two modes of collecting (engine/polling.py's Collection, the same in both): `mode="thread"` runs the
probes on this thread's loop; `mode="process"` runs them in a child process of their own
(engine/worker.py, engine/worker_process.py), so their CPU is not taken from the UI's GIL, and every
stamped reading comes back over a pipe to be judged and kept here exactly as in thread mode. The
child builds its probes from the config (with the system clock); `probes` here still serve dump
verifications and name the rows. `run_once` (`launchdeck check`) always runs in this process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
import time
from typing import Any, Callable, Coroutine

from launchdeck.audit.ledger import IO_TIMEOUT, LedgerError
from launchdeck.checklists.session import ChecklistSession, loader_for
from launchdeck.checklists.signing import ledger_path
from launchdeck.core.config import Config
from launchdeck.core.errors import title_of
from launchdeck.core.model import Clock, Reading, Status, SystemClock
from launchdeck.core.pool import BlockingPool, default_pool
from launchdeck.core.redact import Scrubber
from launchdeck.core.webhook import post
from launchdeck.engine.announce import LOCK_SUFFIX, Announcer, SpeakerLock
from launchdeck.engine import verifications as verify
from launchdeck.engine.events import EventLog, action_event
from launchdeck.engine.notices import (BackfillNotice, ChecklistNotice, Notice, ProblemNotice, ReadingNotice,
                                       VerificationNotice)
from launchdeck.engine.pacing import Gate
from launchdeck.engine.polling import Collection, Key
from launchdeck.engine.state import LiveState, Snapshot
from launchdeck.probes import close_probes
from launchdeck.probes.base import Probe

log = logging.getLogger("launchdeck.engine")

LEDGER_POLL_SECONDS = 0.5  # another terminal's sign-off shows here within this (the bar is 1 s)
RATE_GAP = 2.0  # s between the two scrapes `check` takes of a /metrics source
MODES = ("thread", "process")  # where the probes run: this engine's thread, or a process of their own
STOP_GRACE = 1.5  # s for probes to close when the engine stops (a dead SSH peer must not hold up quit)
SWITCH_INTERVAL = 0.001  # s: the GIL hand-off to the engine thread while the UI thread is busy (default 5 ms)


class Engine:
    def __init__(self, config: Config, probes: list[Probe], clock: Clock | None = None,
                 checklists: ChecklistSession | None = None, pool: BlockingPool | None = None,
                 gate: Gate | None = None, jitter: float = 0.1, mode: str = "thread") -> None:
        if mode not in MODES:
            raise ValueError(f"engine mode {mode!r}: expected one of {', '.join(MODES)}")
        self.mode = mode
        self.config = config
        self.probes = probes
        self.clock = clock or SystemClock()
        self.checklists = checklists
        self.pool = pool or default_pool()
        self.scrub = Scrubber(config.secrets)
        self.events = EventLog()
        self.state = LiveState(self.events, checklists.history if checklists else None)
        self.collection = Collection(probes, self.clock, self.scrub, self, gate, jitter)
        self.worker: Any = None  # the WorkerProcess while mode == "process" runs
        self.verifications = verify.Verifications(config, probes, self.clock, self.pool, self._publish, self.scrub)
        self._jitter = jitter
        self._listeners: list[Callable[[Notice], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: threading.Event | None = None
        self._released = True
        self._go: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._wakes: list[asyncio.Event] = []
        self._tasks: set[asyncio.Task] = set()
        self._judged: set[tuple[str, str]] = set()  # probes read at least once: the verdict covers them all
        self.announcer = _announcer(config)
        self._ledger_lock: asyncio.Lock | None = None  # created on the engine's loop
        self._integrity_told = ""  # the ledger integrity problem last told (once per new problem)
        self._ledger_shown: tuple = ()  # what the checklist screen's warning area last had to show
        if checklists is not None and config.checklists is not None and config.checklists.files:
            checklists.watch(loader_for(config))  # edits to configured files are noticed; templates never change

    # ------------------------------------------------------------------ what views use
    def subscribe(self, listener: Callable[[Notice], None]) -> None:
        """`listener` is called on the engine's thread with every notice: keep it cheap and thread-safe."""
        self._listeners.append(listener)

    def snapshot(self) -> Snapshot:
        return self.state.snapshot(self.clock.now())

    def refresh(self) -> None:
        """Poll every probe now (thread-safe)."""
        self._call_soon(self._wake_all)

    @property
    def lag(self) -> Any:
        """The LagMonitor of the collection in this process (idle in process mode: the child has its own)."""
        return self.collection.lag

    @property
    def retakes(self) -> int:
        """Samples re-taken because the engine stalled during them (in this process; benches report it)."""
        return self.collection.retakes

    @property
    def unjudged(self) -> int:
        """Rounds not judged because every re-take stalled too (in this process)."""
        return self.collection.unjudged

    def sign(self, request: Any) -> concurrent.futures.Future:
        """Sign, unsign or waive against the live evidence; the Future holds the Record once it is on disk."""
        return self._submit(self._sign(request))

    def verify_dump(self, source: str, name: str) -> str:
        """Start verifying one dump; returns why it cannot be (or "" once started)."""
        refusal = self.verifications.refusal(source)
        if not refusal:
            self._call_soon(lambda: self.verifications.begin(source, name)
                            and self._spawn(self.verifications.run(source, name), f"verify {source}/{name}"))
        return refusal

    def verify_newest(self) -> int:
        """Verify the newest dump of every directory source; how many were started."""
        names = verify.newest_names(self.config, self.state.latest_by_key())
        for source, name in names:
            self.verify_dump(source, name)
        return len(names)

    # ------------------------------------------------------------------ lifecycle
    def start(self, wait: bool = True, hold: bool = False) -> None:
        """Run the engine on its own thread until stop(). `wait=False` returns at once; calls made
        before the engine is ready are queued on its loop, and stop() works from the first moment.
        `hold=True` prepares the probes (imports, clients) at once but polls only after release():
        the TUI starts the engine while it composes its first screen and releases it after the
        first paint, so neither the first cycle (its requests spread over 1.2 s while 200 rows were
        composed) nor a first key press (it waited for httpx's 0.25 s import) pays for the other."""
        self._ready = ready = threading.Event()
        self._released = not hold
        self._thread = threading.Thread(target=self._thread_main, args=(ready,), name="launchdeck-engine",
                                        daemon=True)
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread.start()
        if wait:
            ready.wait(5)

    def release(self) -> None:
        """Start polling an engine started with `hold=True` (thread-safe)."""
        self._released = True
        self._call_soon(lambda: self._go.set() if self._go is not None else None)  # the child is told in _main

    def stop(self, timeout: float = 2.0) -> None:
        """Stop polling, close the probes and end the thread; never waits longer than `timeout`."""
        started = time.monotonic()
        while self._thread is not None and self._loop is None and self._thread.is_alive() and \
                time.monotonic() - started < timeout:
            time.sleep(0.005)  # a quit in the thread's first milliseconds: stop what has started, not nothing
        loop, stopping = self._loop, self._stopping
        if loop is None or stopping is None or self._thread is None:
            return
        try:
            loop.call_soon_threadsafe(stopping.set)
        except RuntimeError:  # the loop already closed
            return
        self._thread.join(timeout)

    async def run_once(self, rate_gap: float = RATE_GAP) -> Snapshot:
        """Every probe once, on the caller's loop, judged as the dashboard judges: `launchdeck check`.
        A probe whose numbers are rates (a /metrics scrape) is sampled `rate_gap` seconds earlier too:
        one scrape alone has no rate, and `check` could never have said ok."""
        self._loop = asyncio.get_running_loop()
        self.lag.watch_collections()
        await self.collection.prepare()
        try:
            await asyncio.gather(*(self.collection.once(p, rate_gap) for p in self.probes))
        finally:
            self.lag.close()
            for failure in await close_probes(self.probes):
                log.warning(self.scrub(failure))
        return self.snapshot()

    def _thread_main(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()  # before _loop: stop() takes a set _loop to mean both exist
        self._go = go = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._released:  # read after _loop is set: a release() from now on reaches `go` on the loop
            go.set()
        if self.mode == "process":  # the child prepares its probes while this one goes on
            from launchdeck.engine.worker_process import WorkerProcess

            self.worker = WorkerProcess(self.config, self, self._jitter)
            self._spawn(self.worker.run(hold=not go.is_set()), "engine process")
        else:
            self.lag.watch_collections()
            await self.collection.prepare()
        ready.set()  # prepared (or the child started); polling starts now, or on release()
        if not go.is_set():
            waits = [asyncio.ensure_future(go.wait()), asyncio.ensure_future(self._stopping.wait())]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()
        if self.worker is not None and not self._stopping.is_set():
            self._spawn(self.worker.release(), "engine process: go")
        for probe in self.probes if self.worker is None and not self._stopping.is_set() else ():
            wake = asyncio.Event()
            self._wakes.append(wake)
            self._spawn(self.collection.poll(probe, wake), f"poller {probe.panel}/{probe.target}", probe)
            if hasattr(probe, "history"):
                self._spawn(self.collection.backfill(probe), f"backfill {probe.target}")
        if self.checklists is not None:
            self._spawn(self._watch_ledger(), "ledger watcher")
        await self._stopping.wait()
        self.lag.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.wait(self._tasks, timeout=STOP_GRACE) if self._tasks else None
        if self.worker is not None:
            await self.worker.close()  # told to stop, given STOP_GRACE, killed if it must be; reaped
        try:
            async with asyncio.timeout(STOP_GRACE):
                for failure in await close_probes(self.probes):
                    log.warning(self.scrub(failure))
        except TimeoutError:
            log.warning("probes still closing after %.1fs; left behind", STOP_GRACE)
        if self.announcer is not None:
            self.announcer.lock.release()  # the next dashboard to see a change speaks

    # ------------------------------------------------------------------ what the collection hands over
    def collected(self, key: Key, readings: list[Reading], events: list[dict]) -> None:
        """One judged sample of one probe (from this thread's Collection or the child's): kept, judged, told."""
        for reading in readings:
            self._observe(reading)
        for event in events:
            self.state.container_event(event)
        self._judged.add(key)
        self._announce()

    def backfilled(self, target: str, points: tuple) -> None:
        self._publish(BackfillNotice(target, tuple(points)))

    def problem(self, title: str, text: str, severity: str = "error") -> None:
        self._problem(title, text, severity)

    def collection_lost(self, why: str) -> None:
        """The collecting process died: said as a problem, and no row stays calm on its last reading."""
        self._problem("engine process stopped", f"the probes' process {why}; starting a new one")
        keys = dict.fromkeys([*((p.panel, p.target) for p in self.probes), *self.state.latest_by_key()])
        now = self.clock.now()
        for panel, target in keys:
            self._observe(Reading(panel, target, Status.UNKNOWN, self.scrub(f"not measured: the probes' process {why}"),
                                  {}, now, 0.0))

    def _wake_all(self) -> None:
        for wake in self._wakes:
            wake.set()
        if self.worker is not None:
            self._spawn(self.worker.refresh(), "engine process: refresh")

    def _announce(self) -> None:
        """The Go/No-Go to the [notify] webhook when it has changed and settled (engine/announce.py)."""
        if self.announcer is None:
            return
        due = self.announcer.observe(self.state.verdict, len(self._judged) >= len(self.probes), self.clock.now())
        if due is not None:
            self._spawn(self._post_verdict(*due), "Go/No-Go webhook")

    async def _post_verdict(self, text: str, fields: dict) -> None:
        failure = await post(self.config.notify, text, fields)
        if failure:
            self._problem("Go/No-Go webhook", failure, "warning")

    def _observe(self, reading: Reading) -> None:
        track, verdict = self.state.observe(reading)
        self._publish(ReadingNotice(reading, track, verdict))
        if self.checklists is not None:
            changed = self.checklists.observe(reading, self.clock.now())
            if changed:  # the panel's counts move only with an item's evidence
                self._publish(self._checklist_notice(changed))

    # ------------------------------------------------------------------ checklists and the ledger
    def _checklist_notice(self, keys: list) -> ChecklistNotice:
        session = self.checklists
        board = session.board
        open_keys = {k for k, s in board.states.items() if not s.done}
        live = [e.state for k, e in session.evidence.items() if k in open_keys]
        summary = (tuple((p, *board.progress(p)) for p in board.phases()), live.count("fail"),
                   live.count("unknown"), session.integrity_short())
        return ChecklistNotice(tuple(keys), summary, session.generation)

    async def _read_disk(self, read: Callable[[], Any]) -> tuple[list, bool]:
        """One look at the ledger and the checklist files on the pool, applied here; the keys that changed.
        One at a time (the watcher's and a sign-off's), so a rebuilt board is never overtaken by an older read."""
        if self._ledger_lock is None:
            self._ledger_lock = asyncio.Lock()
        async with self._ledger_lock:
            poll = await self.pool.run(read, timeout=IO_TIMEOUT)
            keys, fresh, messages = self.checklists.apply(poll, self.clock.now())
        if poll.warning:
            self._problem("ledger", poll.warning, "warning")
        for severity, title, text in messages:
            self._problem(title, text, severity)
        problem = self.checklists.integrity_problem()
        if problem != self._integrity_told:  # told once per new problem; the screen shows it while it lasts
            self._integrity_told = problem
            if problem:
                self._problem("ledger integrity", problem, "error")
        for record in fresh:
            if record.kind == "action":  # this or another terminal's deploy, rollback or restore
                panel, target, kind, severity, text = action_event(record)
                self.events.add(_record_time(record, self.clock), panel, target, kind, severity, text)
            else:
                self.state.ledger_record(record)
        if self.verifications.absorb(self.checklists.board):
            self._publish(self.verifications.notice())
        shown = (problem, self.checklists.torn_tail(), tuple(self.checklists.notes), tuple(self.checklists.gone))
        changed = bool(keys) or poll.board is not None or shown != self._ledger_shown
        self._ledger_shown = shown
        return keys, changed

    async def _watch_ledger(self) -> None:
        """Records from this and other terminals, read back from the file: the board shows what is on
        disk. Twice a second: a stat per checklist file, and only new ledger lines are read and verified."""
        read, told, first = self.checklists.open, "", True
        while True:
            try:
                keys, changed = await self._read_disk(read)
                read, told = self.checklists.poll, ""
            except LedgerError as error:  # not a regular file, a symbolic link, no permission: said once, kept polling
                keys, changed = [], False
                if str(error) != told:
                    told = str(error)
                    self._problem("ledger", told)
            if changed or first:  # else a stat and a read cost nothing more
                self._publish(self._checklist_notice(keys))
                first = False
            await asyncio.sleep(LEDGER_POLL_SECONDS)

    async def _sign(self, request: Any) -> Any:
        entry = self.checklists.prepare(request, self.clock.now())  # reads the history: engine loop only
        # flock + write + fsync can stall on a busy disk: on launchdeck's daemon pool, never a loop.
        # A torn tail this append set aside comes back as its recovery record and is told from there.
        record = await self.pool.run(entry.append_to, self.checklists.ledger, timeout=IO_TIMEOUT)
        keys, _ = await self._read_disk(self.checklists.poll)
        self._publish(self._checklist_notice(keys))
        return record

    # ------------------------------------------------------------------ plumbing
    def _publish(self, notice: Notice) -> None:
        for listener in self._listeners:
            listener(notice)

    def record_problem(self, title: str, text: str) -> str:
        """Keep a problem in the event log (and the `launchdeck.engine` logger); thread-safe, so a view's
        own failures land in the same record as the engine's. Returns the text, secrets masked."""
        text = self.scrub(text)
        log.warning("%s: %s", title, text)
        self.state.problem(self.clock.now(), title, text)
        return text

    def _problem(self, title: str, text: str, severity: str = "error") -> None:
        self._publish(ProblemNotice(title, self.record_problem(title, text), severity))

    def _spawn(self, coroutine: Coroutine, name: str, probe: Probe | None = None) -> asyncio.Task:
        """Every engine task ends in one handler: a failure is told to the user, never lost."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)

        def done(finished: asyncio.Task) -> None:
            self._tasks.discard(finished)
            if finished.cancelled() or finished.exception() is None:
                return
            error = finished.exception()
            self._problem(f"{name} stopped", f"{title_of(error)}: {error}")
            if probe is not None:  # its row must not freeze on its last good reading
                self._observe(self.collection.stopped(probe, error))

        task.add_done_callback(done)
        return task

    def _call_soon(self, callback: Callable[[], Any]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback)

    def _submit(self, coroutine: Coroutine) -> concurrent.futures.Future:
        if self._loop is None or self._loop.is_closed():
            coroutine.close()
            future: concurrent.futures.Future = concurrent.futures.Future()
            future.set_exception(RuntimeError("the engine is not running"))
            return future
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)


def _record_time(record: Any, clock: Clock) -> Any:
    """When the record says it was written; now, for a time that does not parse (the event is still told)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(record.time)
    except (TypeError, ValueError):
        return clock.now()


def _announcer(config: Config) -> Announcer | None:
    notify = config.notify
    if notify is None or not notify.verdict:
        return None
    ledger = ledger_path(config)
    return Announcer(config.deck.name, config.deck.environment, notify.hold,
                     SpeakerLock(ledger.with_name(ledger.name + LOCK_SUFFIX)))


__all__ = ["Engine", "Snapshot", "VerificationNotice"]
