"""`launchdeck serve`: the wall in a web browser (src/launchdeck/web/), read-only, one engine.

Loopback unless --allow-remote says otherwise (with a warning: it is plain HTTP); a token always
(--token, $LAUNCHDECK_TOKEN, or a fresh random one), printed once inside the URL to open and
never logged; a cap on viewers. No Textual is imported on this path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import click

from launchdeck.core.plain import visible
from launchdeck.web.auth import WILDCARDS, choose_token, is_loopback, make_guard

REMOTE_WARNING = ("WARNING: serving {host} beyond this machine over plain HTTP: anyone who can see the "
                  "traffic can read the token and the wall. Use a trusted network (or a TLS proxy), and a "
                  "fresh token per launch.")


def _url(host: str, port: int, token: str) -> str:
    import socket

    shown = socket.gethostname() if host in WILDCARDS else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/?token={token}"


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="config file (default: ./launchdeck.toml, then the user config directory)")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on; anything but loopback needs --allow-remote")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port")
@click.option("--token", default=None, help="the secret viewers need (default: $LAUNCHDECK_TOKEN, else random)")
@click.option("--allow-remote", is_flag=True, help="allow a --host other than loopback (prints a warning)")
@click.option("--allow-host", multiple=True,
              help="another name viewers use for this machine (its Host header is otherwise refused)")
@click.option("--max-viewers", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="open pages at most; the next one is told 503")
@click.pass_context
def serve(ctx: click.Context, config_path: Path | None, host: str, port: int, token: str | None,
          allow_remote: bool, allow_host: tuple[str, ...], max_viewers: int) -> None:
    """The wall in a web browser: read-only, one engine for every viewer, a token to view."""
    from launchdeck.cli import _load  # the one config loader and its one-line errors

    if not is_loopback(host) and not allow_remote:
        click.secho(f"launchdeck serve: --host {visible(host)} is not loopback; add --allow-remote to serve "
                    "other machines (plain HTTP)", fg="red", err=True)
        ctx.exit(2)
    token, source = choose_token(token)
    if len(token) < 16:
        click.secho("launchdeck serve: the token is shorter than 16 characters; use a longer one "
                    "(or none, for a random one)", fg="red", err=True)
        ctx.exit(2)
    parent = (ctx.parent.obj or {}) if ctx.parent else {}
    config = _load(config_path or parent.get("config_path"))
    if not is_loopback(host):
        click.secho(REMOTE_WARNING.format(host=visible(host)), fg="yellow", err=True)
    # warnings from everything (a library's INFO lines may carry a probe's URL), our own requests at INFO
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("launchdeck.web").setLevel(logging.INFO)
    engine = _engine(config)
    from launchdeck.engine.recorder import start_recorder

    # the flight recorder, as on the dashboard; a problem is kept in the engine's log and logged
    recorder = start_recorder(config, engine)

    def ready(bound: int) -> None:
        click.echo(f"launchdeck serve: {visible(config.deck.name)} on {visible(host)}:{bound}, "
                   f"at most {max_viewers} viewers, token from {source}")
        click.echo(f"open: {_url(host, bound, token)}", nl=True)
        sys.stdout.flush()

    from launchdeck.web.server import Listen, run_server

    try:
        asyncio.run(run_server(engine, config, lambda bound: make_guard(token, host, bound, allow_host),
                               Listen(host, port, max_viewers, heartbeat=5.0), ready))
    except OSError as error:
        click.secho(f"launchdeck serve: cannot listen on {visible(host)}:{port}: {visible(error.strerror or error)}",
                    fg="red", err=True)
        ctx.exit(2)
    finally:
        if recorder is not None:
            recorder.close(0.5)  # what is queued is written (at most 0.5 s: a stop takes < 2 s)
    # Stopped cleanly: every stream told `closing`; the sockets, the engine and the recorder closed;
    # now the logs. The interpreter's own teardown (freeing every module) took 1.0-2.7 s after that on a loaded
    # 2-core machine, past the 2 s a stop may take with pages open; nothing is left for it to do.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _engine(config):
    """The engine as the dashboard builds it (tui/app.make_app), headless: probes, checklists."""
    from launchdeck.engine.engine import Engine
    from launchdeck.probes import build_probes

    checklists = None
    if config.checklists is not None:
        from launchdeck.checklists.parser import ChecklistError
        from launchdeck.checklists.session import ChecklistSession
        from launchdeck.checklists.signing import ledger_path, load_checklists

        try:
            checklists = ChecklistSession(load_checklists(config), ledger_path(config))
        except ChecklistError as error:  # the wall still shows everything else, and says the checklist is wrong
            click.secho(f"launchdeck serve: checklists: {visible(error)}", fg="yellow", err=True)
    return Engine(config, build_probes(config), checklists=checklists, mode=config.deck.engine)


__all__ = ["serve"]
