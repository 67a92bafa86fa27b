"""Who may see the wall: the token, the Host and Origin a request carries, and the cap on viewers.

Pure checks, no aiohttp here, so each rule is tested on its own (tests/unit/test_web_auth.py):
- the token is compared in constant time (hmac.compare_digest), from `?token=`, the cookie the
  page sets, or `Authorization: Bearer`; it is never logged;
- the Host header must name the address we are bound to (a DNS-rebinding page reaches 127.0.0.1
  under its own name, and is refused);
- a cross-site Origin is refused (a page on another site must not read or open the stream);
- the viewers are counted and capped (the next one gets 503).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass, field

TOKEN_ENV = "LAUNCHDECK_TOKEN"
TOKEN_BYTES = 24  # secrets.token_urlsafe(24): 32 characters, 192 bits
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARDS = ("0.0.0.0", "::", "")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def choose_token(given: str | None, environ: dict | None = None) -> tuple[str, str]:
    """The token and where it came from: --token, then $LAUNCHDECK_TOKEN, else a fresh random one."""
    environ = os.environ if environ is None else environ
    if given:
        return given, "--token"
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV], TOKEN_ENV
    return new_token(), "random"


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison; an absent or empty token never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`; a name that is not an address is not loopback."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_port(host: str, port: int) -> str:
    """`host:port` as a browser writes it in a Host header (IPv6 in brackets, lower case)."""
    host = host.lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def allowed_hosts(bound: str, port: int, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The Host header values that name this server. Loopback: the loopback names. A wildcard bind
    (--allow-remote on 0.0.0.0): this machine's names and addresses. Always: `extra` (--allow-host)."""
    names = {bound}
    if is_loopback(bound):
        names.update(LOOPBACK_NAMES)
    elif bound in WILDCARDS:
        names.update(LOOPBACK_NAMES)
        names.update(_own_names())
    names.update(extra)
    return frozenset(_host_port(name, port) for name in names if name not in WILDCARDS)


def _own_names() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):  # no resolvable name: the names themselves and --allow-host still work
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(info[4][0]))
    return {name for name in names if name}


@dataclass(frozen=True)
class Guard:
    """The rules one server applies to every request, decided once at start."""

    token: str
    hosts: frozenset[str]  # allowed Host header values, `name:port`
    cookie_name: str

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts) | frozenset(f"https://{host}" for host in self.hosts)

    def host_ok(self, host: str | None) -> bool:
        """A Host naming this server; a rebinding page's own name (attacker.example:8765) is not one."""
        return bool(host) and host.lower() in self.hosts

    def origin_ok(self, origin: str | None, fetch_site: str | None = None, fetch_mode: str | None = None) -> bool:
        """No Origin (a same-origin GET sends none) or our own; `null` and other sites are refused,
        and so is a request the browser itself marks cross-site (Sec-Fetch-Site), unless it is a
        top-level navigation: the printed URL clicked in a chat opens the page (which no site can
        frame), while another site's script still cannot open the stream."""
        if fetch_site == "cross-site" and fetch_mode != "navigate":
            return False
        if origin is None:
            return True
        return origin.lower() in self.origins

    def token_of(self, query_token: str | None, cookie: str | None, authorization: str | None) -> str | None:
        """The token a request carries, in the order people and the page send it."""
        if query_token:
            return query_token
        if cookie:
            return cookie
        if authorization and authorization.lower().startswith("bearer "):
            return authorization[7:].strip()
        return None

    def authorised(self, query_token: str | None, cookie: str | None, authorization: str | None) -> bool:
        return token_matches(self.token_of(query_token, cookie, authorization), self.token)


def make_guard(token: str, bound: str, port: int, extra_hosts: tuple[str, ...] = ()) -> Guard:
    # cookies are not kept apart by port: two servers on one box must not overwrite each other's
    return Guard(token, allowed_hosts(bound, port, extra_hosts), f"launchdeck_token_{port}")


@dataclass
class Viewers:
    """Open event streams, at most `limit`; the server's one loop is the only caller (no lock)."""

    limit: int
    count: int = 0
    peak: int = field(default=0)

    def try_enter(self) -> bool:
        if self.count >= self.limit:
            return False
        self.count += 1
        self.peak = max(self.peak, self.count)
        return True

    def leave(self) -> None:
        self.count = max(0, self.count - 1)


__all__ = [
    "TOKEN_ENV",
    "Guard",
    "Viewers",
    "allowed_hosts",
    "choose_token",
    "is_loopback",
    "make_guard",
    "new_token",
    "token_matches",
]
