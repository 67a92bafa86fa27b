"""Notice a terminal that went away without a hang-up signal, and end launchdeck as a hang-up would.

Why: started from a wrapper that ignores SIGHUP and does not forward it (make, a supervisor script),
a closed tmux session or a dropped SSH connection sends launchdeck nothing. The terminal is hung up
all the same: reads return end-of-file at once (Textual's input thread then spins) and writes fail
with EIO (its writer thread dies, and the screen's next writes block for good on the writer's full
queue). Nothing ever exits.

How: a daemon thread waits in poll(2) on the terminal's descriptors asking for no event at all. The
kernel always reports a hang-up (POLLHUP) and errors, and a live terminal reports neither, so the
thread sleeps without waking until the terminal is gone. Then it points those descriptors at
/dev/null (the clean-up's writes, Textual's "leave the alternate screen" included, go nowhere
instead of failing or blocking) and calls `on_gone`, which the CLI makes a SIGHUP to the main
thread: the one exit path every stop takes. No Textual internals are touched.
"""

from __future__ import annotations

import os
import select
import stat
import threading
from collections.abc import Callable, Iterable
from typing import Self

GONE = select.POLLHUP | select.POLLERR


def terminal_fds(candidates: Iterable[int] = (0, 1, 2)) -> list[int]:
    """The standard descriptors that are terminals (Textual reads fd 0 and writes fd 2), including one
    already hung up before the watch began (isatty() is False for it: it no longer answers ioctls)."""
    found = []
    for fd in candidates:
        try:
            if os.isatty(fd) or (stat.S_ISCHR(os.fstat(fd).st_mode) and _hung_up(fd)):
                found.append(fd)
        except OSError:
            continue
    return found


class TerminalWatch:
    """Calls `on_gone()` once, from its own daemon thread, when any watched terminal is hung up."""

    def __init__(self, on_gone: Callable[[], None], fds: Iterable[int] | None = None) -> None:
        self.on_gone = on_gone
        self.fds = list(terminal_fds() if fds is None else fds)
        self.gone = threading.Event()
        self._closed = False
        self._wake_read, self._wake_write = os.pipe()  # stop() wakes the poll through this
        self._thread = threading.Thread(target=self._watch, name="launchdeck-terminal-watch", daemon=True)

    def start(self) -> Self:
        if self.fds:
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the app has given the terminal back); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        os.write(self._wake_write, b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)
        os.close(self._wake_write)
        if not self._thread.is_alive():
            os.close(self._wake_read)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _watch(self) -> None:
        poller = select.poll()
        for fd in self.fds:
            poller.register(fd, 0)  # no event asked for: only a hang-up or an error wakes us
        poller.register(self._wake_read, select.POLLIN)
        while True:
            events = poller.poll()
            if any(fd == self._wake_read for fd, _ in events):
                return
            hung = [fd for fd, mask in events if mask & GONE]
            for fd, mask in events:
                if mask & select.POLLNVAL:  # closed under us: nothing to watch there any more
                    poller.unregister(fd)
            if hung:
                break
        self._silence(fd for fd in self.fds if fd in hung or _hung_up(fd))
        self.gone.set()
        self.on_gone()

    @staticmethod
    def _silence(fds: Iterable[int]) -> None:
        """/dev/null in place of a dead terminal: writes succeed and go nowhere, reads see end-of-file."""
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for fd in fds:
                os.dup2(null, fd)
        finally:
            os.close(null)


def _hung_up(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, 0)
    return any(mask & GONE for _, mask in poller.poll(0))


__all__ = ["TerminalWatch", "terminal_fds"]
