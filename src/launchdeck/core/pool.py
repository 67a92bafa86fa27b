"""A small executor of daemon threads for blocking SDK calls that have no async client.

Why not asyncio's default executor or ThreadPoolExecutor: their threads are joined at interpreter
exit, so one hung call delays quitting (DESIGN field notes: 20 s measured), and six hung calls
starve everything else. Here every call carries its own timeout, a call that overruns is
abandoned (its daemon thread may stay stuck; it never delays exit), and the number of threads is
bounded so hung calls cannot pile threads up: when all are busy, a new call queues, still inside
its own timeout. Threads start lazily, so an idle launchdeck that never calls a blocking SDK
starts none. The pool holds no asyncio objects, so it works from any event loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, TypeVar

T = TypeVar("T")

DEFAULT_MAX_THREADS = 8


class _Job:
    __slots__ = ("future", "fn", "args", "kwargs")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.future: Future[Any] = Future()
        self.fn, self.args, self.kwargs = fn, args, kwargs


class BlockingPool:
    """At most `max_threads` daemon threads; jobs wait in a queue while all of them are busy."""

    def __init__(self, max_threads: int = DEFAULT_MAX_THREADS, name: str = "launchdeck-blocking") -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = max_threads
        self.name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0  # started so far
        self._waiting = 0  # threads blocked on the queue, ready for a job
        self._pending = 0  # jobs queued and not yet taken by a thread

    @property
    def threads(self) -> int:
        """Threads started so far (they live for the rest of the process)."""
        return self._threads

    @property
    def busy(self) -> int:
        """Threads running a call right now, stuck ones included."""
        with self._lock:
            return self._threads - self._waiting

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Queue a call; the Future is cancellable until a thread picks it up."""
        job = _Job(fn, args, kwargs)
        with self._lock:
            self._jobs.put(job)
            self._pending += 1
            spawn = self._pending > self._waiting and self._threads < self.max_threads
            if spawn:
                self._threads += 1
                self._waiting += 1
                number = self._threads
        if spawn:
            threading.Thread(target=self._work, name=f"{self.name}-{number}", daemon=True).start()
        return job.future

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float, **kwargs: Any) -> T:
        """fn(*args, **kwargs) in a pool thread; TimeoutError after `timeout` s, queueing included."""
        future = self.submit(fn, *args, **kwargs)
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.wrap_future(future)
        finally:
            future.cancel()  # still queued (timeout or cancellation): it will never run

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            with self._lock:
                self._waiting -= 1
                self._pending -= 1
            if not job.future.set_running_or_notify_cancel():  # its caller gave up while it queued
                self._ready()
                continue
            try:
                result = job.fn(*job.args, **job.kwargs)
            except BaseException as error:  # handed to the awaiting caller, which re-raises it
                self._ready()  # before the caller wakes: its next call must find this thread free
                job.future.set_exception(error)
            else:
                self._ready()
                job.future.set_result(result)
            job = result = error = None  # type: ignore[assignment]  # hold no references while idle

    def _ready(self) -> None:
        with self._lock:
            self._waiting += 1


_default: BlockingPool | None = None
_default_lock = threading.Lock()


def default_pool() -> BlockingPool:
    """The process-wide pool used by run_blocking (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = BlockingPool()
        return _default


async def run_blocking(fn: Callable[..., T], *args: Any, timeout: float, **kwargs: Any) -> T:
    """Run a blocking call on launchdeck's daemon-thread pool; TimeoutError after `timeout`.

    `timeout` is run_blocking's own: to pass a `timeout=` to fn, wrap it (functools.partial).
    """
    return await default_pool().run(fn, *args, timeout=timeout, **kwargs)
