"""The browser view's rules on their own (web/auth.py): token, Host, Origin, viewer cap."""

from __future__ import annotations

import pytest

from launchdeck.web.auth import (
    TOKEN_ENV,
    Viewers,
    allowed_hosts,
    choose_token,
    is_loopback,
    make_guard,
    new_token,
    token_matches,
)

TOKEN = "s3cret-token-for-the-war-room"


def test_token_comparison_needs_the_exact_token():
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert not token_matches(TOKEN + "x", TOKEN)
    assert not token_matches("", TOKEN)
    assert not token_matches(None, TOKEN)
    assert not token_matches("", "")  # an empty expected token never opens the door
    assert not token_matches("ünïcode", TOKEN)  # non-ASCII is compared as bytes, not an error


def test_choose_token_prefers_the_flag_then_the_environment_then_a_fresh_random_one():
    assert choose_token("from-flag", {TOKEN_ENV: "from-env"}) == ("from-flag", "--token")
    assert choose_token(None, {TOKEN_ENV: "from-env"}) == ("from-env", TOKEN_ENV)
    first, source = choose_token(None, {})
    second, _ = choose_token(None, {})
    assert source == "random" and first != second and len(first) >= 32
    assert new_token() != new_token()


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
                                           ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                           ("192.168.1.10", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_host_header_must_name_this_server_and_port():
    guard = make_guard(TOKEN, "127.0.0.1", 8765)
    assert guard.host_ok("127.0.0.1:8765")
    assert guard.host_ok("localhost:8765") and guard.host_ok("LOCALHOST:8765")
    assert guard.host_ok("[::1]:8765")
    assert not guard.host_ok("127.0.0.1:8766")  # another port: another server
    assert not guard.host_ok("attacker.example:8765")  # DNS rebinding: the attacker's name for 127.0.0.1
    assert not guard.host_ok("127.0.0.1")  # no port
    assert not guard.host_ok("")
    assert not guard.host_ok(None)


def test_a_specific_address_allows_only_itself_and_the_names_given():
    hosts = allowed_hosts("192.168.1.10", 8765, ("warroom.lan",))
    assert hosts == {"192.168.1.10:8765", "warroom.lan:8765"}


def test_origin_none_or_our_own_only():
    guard = make_guard(TOKEN, "127.0.0.1", 8765)
    assert guard.origin_ok(None)
    assert guard.origin_ok("http://127.0.0.1:8765")
    assert guard.origin_ok("http://localhost:8765", "same-origin")
    assert not guard.origin_ok("http://evil.example")
    assert not guard.origin_ok("http://127.0.0.1:9999")
    assert not guard.origin_ok("null")  # a sandboxed frame or a file:// page
    assert not guard.origin_ok(None, "cross-site")  # the browser itself says another site sent it
    assert not guard.origin_ok(None, "cross-site", "cors")  # another site's EventSource or fetch
    assert not guard.origin_ok("http://evil.example", "cross-site", "navigate")  # a cross-site form
    assert guard.origin_ok(None, "cross-site", "navigate")  # the URL clicked in a chat: the page opens


def test_token_from_query_then_cookie_then_bearer():
    guard = make_guard(TOKEN, "127.0.0.1", 8765)
    assert guard.authorised(TOKEN, None, None)
    assert guard.authorised(None, TOKEN, None)
    assert guard.authorised(None, None, f"Bearer {TOKEN}")
    assert not guard.authorised(None, None, None)
    assert not guard.authorised("wrong", TOKEN, None)  # a wrong token in the URL is not rescued by the cookie
    assert not guard.authorised(None, None, f"Basic {TOKEN}")
    assert guard.cookie_name == "launchdeck_token_8765"  # two servers on one machine keep their own


def test_viewers_are_capped_and_counted_back():
    viewers = Viewers(2)
    assert viewers.try_enter() and viewers.try_enter()
    assert not viewers.try_enter()
    viewers.leave()
    assert viewers.try_enter()
    assert viewers.count == 2 and viewers.peak == 2
