"""The `launchdeck` command: the TUI by default, plus `check`, `demo`, `init`, checklists and backups.

Config problems are printed as one short message and exit 2; no traceback reaches the user.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import signal
import sys
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import click

from launchdeck import __version__
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.config import CONFIG_NAME, Config, ConfigError, find_config, load_config
from launchdeck.core.plain import visible, visible_lines

CONFIG_OPTION = click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
                             help=f"config file (default: ./{CONFIG_NAME}, then the user config directory)")


def _quiet_logging() -> None:
    """While the TUI owns the terminal, a library's warning (psycopg, urllib3) must not print over it:
    Python's last-resort handler writes WARNING records to stderr when nothing else handles them."""
    import logging

    logging.getLogger().addHandler(logging.NullHandler())


STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def _stop(signum: int, _frame: object) -> None:
    """A hang-up (a dropped SSH session) or a SIGTERM (systemd, kill, a supervisor) ends launchdeck the
    way `q` does: SystemExit, so every `finally` and Textual's own clean-up run (terminal restored,
    the engine and its child process groups stopped, the demo's servers and temp dir removed).
    The kernel follows a hang-up with SIGCONT (and tmux signals too): a second stop signal, or
    Textual's SIGCONT handler (it resumes the screen, and raises once the loop is gone), arriving
    during the clean-up would abort the very `finally` blocks this exit lets run."""
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    signal.signal(signal.SIGCONT, signal.SIG_DFL)
    if _running_app is not None:
        threading.Thread(target=_insist_on_exit, args=(_running_app, 128 + signum), name="launchdeck-stop",
                         daemon=True).start()
    raise SystemExit(128 + signum)


_running_app = None  # the dashboard's app while it runs: a stop signal's backstop asks it to exit
STOP_BACKSTOP_SECONDS = 0.25


def _insist_on_exit(app, code: int) -> None:
    """A handler's SystemExit that lands inside a finalizer or a weakref callback (a garbage collection
    running at that moment) is printed as "Exception ignored" and lost, and the stop signals are
    ignored by then: 1 SIGTERM in ~10 left the dashboard running (tests/integration/test_signals.py).
    So the loop is also asked to exit the way `q` does; an app already ending ignores it."""
    time.sleep(STOP_BACKSTOP_SECONDS)
    loop = getattr(app, "_loop", None)
    if loop is not None and not loop.is_closed():
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the first exit took effect
            loop.call_soon_threadsafe(lambda: app.exit(return_code=code))


def _exit_cleanly_on_stop_signals() -> None:
    for stop in STOP_SIGNALS:
        signal.signal(stop, _stop)


def _hang_up_main_thread() -> None:
    """The terminal went away and no SIGHUP came (a wrapper that does not forward it): send one to the
    main thread, so this exit is the hang-up's own. To the main thread itself, because only there does
    it interrupt a blocking call (a write queued for a terminal that is gone)."""
    signal.pthread_kill(threading.main_thread().ident, signal.SIGHUP)


def _run_tui(config: Config, allow_actions: bool) -> None:
    from launchdeck.tui.app import ENGINE_STOP_SECONDS, make_app
    from launchdeck.tui.terminal_watch import TerminalWatch

    _quiet_logging()
    # SIGHUP's and SIGTERM's defaults kill us before any `finally` runs: the terminal would stay in
    # the alternate screen with mouse tracking on, and the demo's servers and temp dir would remain.
    # Installed even when SIGHUP came in ignored (nohup, a wrapper): the watch below relies on it.
    _exit_cleanly_on_stop_signals()
    global _running_app
    app = make_app(config, allow_actions=allow_actions)
    _running_app = app
    try:
        with TerminalWatch(on_gone=_hang_up_main_thread):
            app.run()
        if app.return_code:  # ended by a stop signal's backstop (below): exit as the signal would
            raise SystemExit(app.return_code)
    finally:
        _running_app = None
        # the app stops the engine when it unmounts, but a stop signal's SystemExit can land where
        # Textual never dispatches Unmount (seen in 1 run of 4, and 2 of 4: the process ended with a
        # command probe's `sh` and its children still running); stopping twice is harmless
        app.engine.stop(ENGINE_STOP_SECONDS)


def _load(config_path: Path | None) -> Config:
    try:
        return load_config(find_config(config_path))
    except ConfigError as error:
        click.secho(f"launchdeck: config error: {visible_lines(error)}", fg="red", err=True)
        sys.exit(2)


class _Launchdeck(click.Group):
    """Every command's deliberate errors end as one line and exit 2, never a traceback: a crashed
    `check` exiting 1 would read as "warn" to the CI that runs it. Messages carry paths and ids
    people wrote: their control characters are shown, not sent to the terminal."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = {}  # command name -> "module:attribute", imported when that command runs

    def add_lazy_command(self, name: str, target: str) -> None:
        """Register a subcommand by where it lives: the dashboard's start-up imports none of them (act,
        backups, the browser view... cost ~0.3 s of imports before the first frame)."""
        self.lazy[name] = target

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self.lazy:
            module, _, attribute = self.lazy[name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LaunchdeckError as error:
            click.secho(f"launchdeck: {error.title}: {visible_lines(error)}", fg="red", err=True)
            ctx.exit(2)
        except OSError as error:  # a path that cannot be written or read: the path and the reason
            where = f"{visible(error.filename)}: " if error.filename else ""
            click.secho(f"launchdeck: {where}{visible(error.strerror or error)}", fg="red", err=True)
            ctx.exit(2)


@click.group(cls=_Launchdeck, invoke_without_command=True)
@CONFIG_OPTION
@click.option("--allow-actions", is_flag=True, help="enable deploy / rollback / restore (read-only otherwise)")
@click.version_option(__version__, prog_name="launchdeck")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, allow_actions: bool) -> None:
    """Launch-day dashboard: service health, traffic, containers, backups, checklists."""
    ctx.obj = {"config_path": config_path}
    if ctx.invoked_subcommand is None:
        _run_tui(_load(config_path), allow_actions)


@main.command()
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
@click.option("--rate-gap", default="2s", show_default=True,
              help="time between the two scrapes of a /metrics traffic source (rates need two)")
@click.pass_context
def check(ctx: click.Context, config_path: Path | None, as_json: bool, rate_gap: str) -> None:
    """Run every probe once; exit 0 ok, 1 warn, 2 crit or unknown."""
    from launchdeck.cli.oneshot import check as run
    from launchdeck.core.units import parse_duration

    try:
        gap = parse_duration(rate_gap)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--rate-gap") from None
    if not 0.1 <= gap <= 300:
        raise click.BadParameter("between 100ms and 5m", param_hint="--rate-gap")
    config = _load(config_path or ctx.obj["config_path"])
    ctx.exit(run(config, as_json, rate_gap=gap))


@main.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), default=CONFIG_NAME)
@click.option("--force", is_flag=True, help="overwrite an existing file")
def init(path: Path, force: bool) -> None:
    """Write a commented starter config."""
    if path.exists() and not force:
        click.secho(f"launchdeck: {path} already exists (use --force to overwrite)", fg="red", err=True)
        sys.exit(2)
    text = resources.files("launchdeck").joinpath("templates/starter.toml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}; edit it, then run `launchdeck check --config {path}`")


@main.command()
@click.option("--error-ratio", type=click.FloatRange(0, 1), default=None, help="simulated 5xx ratio for every service")
@click.option("--p95-ms", type=click.FloatRange(1, 60000), default=None, help="simulated p95 latency for every service")
@click.option("--prometheus", "with_prometheus", is_flag=True,
              help="start a real Prometheus (Debian `prometheus` on PATH) and read traffic through it")
@click.option("--no-tui", is_flag=True, help="only run the demo stack and print its config path (Ctrl-C stops)")
@click.option("--allow-actions", is_flag=True,
              help="deploy / rollback / restore that really change the demo stack (v1 is deployed at start)")
def demo(error_ratio: float | None, p95_ms: float | None, with_prometheus: bool, no_tui: bool,
         allow_actions: bool) -> None:
    """Start an embedded stack of real loopback services and open the dashboard on it."""
    _exit_cleanly_on_stop_signals()  # from the start: a stop during start-up cleans up too
    from launchdeck.demo.prometheus import DemoPrometheus
    from launchdeck.demo.stack import DemoStack
    from launchdeck.tui.terminal_watch import TerminalWatch  # no Textual in it: a poll(2) thread

    if allow_actions:
        from launchdeck.demo.actions import action_services

        stack = DemoStack(action_services())  # every service up: a deploy's watch window gates on them all
    else:
        stack = DemoStack()
    for service in stack.services.values():
        if error_ratio is not None:
            service.error_ratio = error_ratio
        if p95_ms is not None:
            service.p95_ms = p95_ms
    workdir = Path(tempfile.mkdtemp(prefix="launchdeck-demo-"))
    prometheus = None
    try:
        with stack:
            if with_prometheus:
                prometheus = DemoPrometheus(stack.scrape_targets(), workdir)
                try:
                    prometheus.start()
                except RuntimeError as error:
                    click.secho(f"launchdeck demo: {error}", fg="red", err=True)
                    sys.exit(2)
            config_path = stack.write_config(workdir, prometheus.url if prometheus else None, allow_actions)
            if allow_actions:
                _deploy_first(config_path)
            if no_tui:
                # handlers, not a blocked mask: the stack's threads started unblocked and would take a
                # process-wide SIGHUP's default action (death, no clean-up); installed before the config
                # is announced, so a stop sent the moment it is read is honoured
                stopped = threading.Event()
                for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(stop, lambda *_: stopped.set())
                click.echo(f"demo stack running; config: {config_path}")
                for name in stack.services:
                    click.echo(f"  {name:10} {stack.base_url(name)}")
                if prometheus:
                    click.echo(f"  {'prometheus':10} {prometheus.url}")
                with TerminalWatch(on_gone=stopped.set):  # a terminal gone without a SIGHUP stops it too
                    while not stopped.wait(0.5):
                        pass
                return
            _run_tui(_load(config_path), allow_actions)
    finally:
        if prometheus is not None:
            prometheus.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _deploy_first(config_path: Path) -> None:
    """The demo's v1, deployed through the real flow (recorded in the ledger): rollback's good version."""
    from launchdeck.demo.actions import FIRST, deploy_first

    click.echo(f"demo: deploying {FIRST} (the release rollback returns to) ...")
    result = deploy_first(config_path)
    colour = "green" if result.outcome == "done" else "yellow"
    click.secho(f"demo: deploy {FIRST}: {result.outcome}: {visible(result.message)}", fg=colour)


# one line per subcommand, imported only when it runs: main.add_lazy_command(name, "module:attribute")
main.add_lazy_command("checklist", "launchdeck.cli.checklists:checklist")
main.add_lazy_command("signoff", "launchdeck.cli.checklists:signoff")
main.add_lazy_command("report", "launchdeck.cli.checklists:report")
main.add_lazy_command("backups", "launchdeck.cli.backups:backups")
main.add_lazy_command("act", "launchdeck.cli.act:act")
main.add_lazy_command("replay", "launchdeck.cli.replay:replay")  # a flight recording: dashboard and timeline
main.add_lazy_command("serve", "launchdeck.cli.serve:serve")  # the browser view; it reads _load from here
main.add_lazy_command("wall", "launchdeck.cli.wall:wall")  # the war-room wall in this terminal
