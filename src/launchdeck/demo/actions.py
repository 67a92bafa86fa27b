"""`launchdeck demo --allow-actions`: deploy, rollback and restore that really change the demo stack.

The config's [actions] run the demo's own programs with this Python (demo/deploy.py writes the
release the stack follows; demo/restore.py puts the shop's SQLite file back from a dump), so the
whole story plays in one terminal: deploy v2, the watch window sees checkout's 5xx ratio breach,
rollback returns to v1 (the previous good version, from the ledger), restore brings back the
orders v2's migration lost from a dump chosen from the `main_db` backups list (`{backup}`). `deploy_first` deploys v1 at start-up through the real action flow, so
the ledger holds a good version for rollback to return to.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from launchdeck.demo.restore import SOURCE, load_dump, newest_dump
from launchdeck.demo.stack import DemoService, default_services

if TYPE_CHECKING:
    from launchdeck.actions.flow import ActionResult

RELEASE_FILE = "release.json"
DATABASE = "shop.db"
FIRST = "v1"
WATCH = "20s"  # the deploy's watch window: long enough to see v2 breach (crit after 5 s), short to demo
FIRST_WATCH = 3.0  # s: the start-up deploy of v1 (v1 is the known-good release; the demo should start fast)
VERSION_PATTERN = "^v[0-9]+$"
DUMP_PATTERN = rf"^{SOURCE}_[0-9]{{8}}_[0-9]{{6}}\.sql\.gz$"  # the chosen dump's name (its path goes to the step)
CONFIRM_RESTORE = "shop"  # restore asks for the database's name, deploy for the environment


def action_services() -> list[DemoService]:
    """The demo's services with every one up: a deploy's watch window fails on any crit service, and
    search down from the start would breach every deploy (leaving nothing good to roll back to)."""
    services = default_services()
    for service in services:
        service.down = False
    return services


def _q(text: str | Path) -> str:
    return json.dumps(str(text))  # a TOML basic string: JSON's escapes are TOML's


def _argv(*words: str | Path) -> str:
    return "[" + ", ".join(_q(w) for w in words) + "]"


def config_lines(release: Path, database: Path, backups: Path, python: str = sys.executable) -> list[str]:
    deploy = _argv(python, "-m", "launchdeck.demo.deploy", "--state", release, "--database", database, "{version}")
    restore = [python, "-m", "launchdeck.demo.restore"]
    safety = _argv(*restore, "safety", "--database", database)
    load = _argv(*restore, "restore", "--database", database, "--backups", backups, "{backup}")
    check = _argv(*restore, "check", "--database", database)
    return [
        "# --allow-actions: deploy / rollback / restore run the demo's own programs on the files beside",
        "# this config (v2 is a bad release: checkout 30 % 5xx and a migration that loses orders)",
        "[actions]", "enabled = true", "",
        "[actions.deploy]", f"argv = {deploy}", f"params = {{ version = '{VERSION_PATTERN}' }}",
        'confirm = "typed"', f'watch = "{WATCH}"', 'timeout = "1m"', "",
        "# {version}: the previous good version, from the ledger",
        "[actions.rollback]", f"argv = {deploy}", 'confirm = "typed"', 'timeout = "1m"', "",
        f"# {{backup}}: the dump chosen from the [[backups]] {SOURCE} list (act restore --backup NAME; default newest)",
        "[actions.restore]", f'backups = "{SOURCE}"', f"params = {{ backup = '{DUMP_PATTERN}' }}",
        'confirm = "typed"',
        f'confirm_word = "{CONFIRM_RESTORE}"', 'timeout = "1m"',
        "steps = [",
        f'  {{ name = "safety copy", argv = {safety} }},',
        f'  {{ name = "restore", argv = {load} }},',
        f'  {{ name = "check", argv = {check} }},',
        "]", "",
    ]


def prepare(directory: Path, backups: Path) -> tuple[Path, list[str]]:
    """The shop's database (loaded from the newest dump) and the [actions] lines; the release file's path
    (written by the first deploy)."""
    database = directory / DATABASE
    dump = newest_dump(backups)
    if dump is None:
        raise RuntimeError(f"no {SOURCE} dump in {backups}")
    load_dump(database, dump)
    release = directory / RELEASE_FILE
    return release, config_lines(release, database, backups)


def deploy_first(config_path: Path, watch: float = FIRST_WATCH) -> ActionResult:
    """Deploy v1 through the real flow (lock, ledger, steps, a short watch window), as the demo's own
    start-up: no operator confirms it, and its reason says so in the ledger."""
    import asyncio

    from launchdeck.actions.flow import Options, ledger_path, log_dir, run_action
    from launchdeck.actions.plan import build_plan
    from launchdeck.core.config import load_config

    config = load_config(config_path)
    plan = build_plan(config, "deploy", {"version": FIRST}, allow_actions=True)
    plan.watch = watch
    opts = Options(ledger_path(config), log_dir(config),
                   reason=f"launchdeck demo start-up: {FIRST} is the release in production")
    return asyncio.run(run_action(config, plan, opts))
