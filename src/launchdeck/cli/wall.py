"""`launchdeck wall`: the wall in this terminal, for the war room's TV (read-only, always)."""

from __future__ import annotations

from pathlib import Path

import click

from launchdeck.core.config import CONFIG_NAME, Config


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help=f"config file (default: ./{CONFIG_NAME}, then the user config directory)")
@click.pass_context
def wall(ctx: click.Context, config_path: Path | None) -> None:
    """The Go / No-Go wall: verdict in big letters, reasons, key figures; read-only whatever the config."""
    from launchdeck.cli import _load

    run_wall(_load(config_path or (ctx.obj or {}).get("config_path")))


def run_wall(config: Config) -> None:
    """As the dashboard runs (cli._run_tui): stop signals and a vanished terminal end it cleanly,
    and the engine is stopped however the app ended."""
    from launchdeck.cli import (
        _exit_cleanly_on_stop_signals,
        _hang_up_main_thread,
        _quiet_logging,
    )
    from launchdeck.tui.app import ENGINE_STOP_SECONDS
    from launchdeck.tui.terminal_watch import TerminalWatch
    from launchdeck.tui.wall_app import make_wall_app

    _quiet_logging()
    _exit_cleanly_on_stop_signals()
    app = make_wall_app(config)
    try:
        with TerminalWatch(on_gone=_hang_up_main_thread):
            app.run()
    finally:
        app.engine.stop(ENGINE_STOP_SECONDS)


__all__ = ["run_wall", "wall"]
