"""The pipe between the engine and its collecting process: length-prefixed pickles over a socketpair.

Both ends are asyncio (non-blocking `sock_sendall` / `sock_recv`), so a slow reader never blocks the
other side's loop, and readings cross as plain tuples (a Reading's values are a read-only mapping,
which pickle refuses). Only launchdeck's own two processes ever hold the two ends.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from types import MappingProxyType
from typing import Any

from launchdeck.core.model import Reading, Status

HEADER = struct.Struct("!I")
CHUNK = 1 << 16


class Channel:
    """One end of the pipe. `receive()` returns None once the other end is gone (closed or dead)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._buffer = bytearray()
        self._sending = asyncio.Lock()

    async def send(self, *message: Any) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        async with self._sending:  # two writers must not interleave their frames
            await asyncio.get_running_loop().sock_sendall(self.sock, HEADER.pack(len(data)) + data)

    async def receive(self) -> tuple | None:
        loop = asyncio.get_running_loop()
        while True:
            if len(self._buffer) >= HEADER.size:
                (size,) = HEADER.unpack_from(self._buffer)
                if len(self._buffer) >= HEADER.size + size:
                    message = pickle.loads(self._buffer[HEADER.size:HEADER.size + size])
                    del self._buffer[:HEADER.size + size]
                    return message
            try:
                chunk = await loop.sock_recv(self.sock, CHUNK)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                return None
            self._buffer += chunk

    def close(self) -> None:
        self.sock.close()


def plain(value: Any) -> Any:
    """Read-only mappings (a Reading's values, nested ones too) as dicts, so they pickle."""
    if isinstance(value, (dict, MappingProxyType)):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value) if type(value) in (list, tuple) else value
    return value


def reading_to_wire(reading: Reading) -> tuple:
    return (reading.panel, reading.target, reading.status.value, reading.reason, plain(reading.values),
            reading.observed_at, reading.duration)


def reading_from_wire(wire: tuple) -> Reading:
    panel, target, status, reason, values, observed_at, duration = wire
    return Reading(panel, target, Status(status), reason, values, observed_at, duration)
