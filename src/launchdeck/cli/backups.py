"""`launchdeck backups list|verify`: the Backups panel from the shell, and verification on demand.

`verify` checks the newest dump of each directory source (or `--file NAME`) where it lies, prints
each check, records the result in the sign-off ledger when [checklists] is configured, and exits
0 when every verification passed, 2 otherwise: a cron job can run it after the nightly dump.
File names, locations and command output come from other machines: printed through `visible`,
never as markup or raw control characters.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from launchdeck.cli.checklists import FILE, fail
from launchdeck.core.config import Config, ConfigError, find_config, load_config
from launchdeck.core.plain import visible


def _config(config_path: Path | None) -> Config:
    try:
        return load_config(find_config(config_path))
    except ConfigError as error:
        fail(f"config error: {error}")
        raise  # unreachable: fail() exits


def _sources(config: Config, names: tuple[str, ...]) -> list:
    known = {spec.name: spec for spec in config.backups}
    if not known:
        fail("no [[backups]] in the config")
    missing = [name for name in names if name not in known]
    if missing:
        fail(f"no [[backups]] source named {', '.join(map(repr, missing))} (known: {', '.join(known)})")
    return [known[name] for name in names] if names else list(known.values())


@click.group()
def backups() -> None:
    """List backups and verify dumps."""


@backups.command("list")
@click.argument("sources", nargs=-1)
@click.option("--config", "config_path", type=FILE, default=None)
@click.option("--json", "as_json", is_flag=True)
def backups_list(sources: tuple[str, ...], config_path: Path | None, as_json: bool) -> None:
    """Recent backups of each source, newest first (what a restore chooses from)."""
    from launchdeck.cli.oneshot import STATUS_STYLE, plain, run_check
    from launchdeck.probes import build_probes
    from launchdeck.probes.backups.freshness import age_words
    from launchdeck.core.units import format_size

    config = _config(config_path)
    wanted = {spec.name for spec in _sources(config, sources)}
    probes = [p for p in build_probes(config.model_copy(update={"services": [], "traffic": [], "containers": []}))
              if p.target in wanted]

    _, readings = asyncio.run(run_check(config, probes))
    code = max((r.status.exit_code for r in readings), default=0)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in readings], indent=2, default=str))
        raise SystemExit(code)
    console = Console()
    for reading in readings:
        style = STATUS_STYLE[reading.status]
        console.print(Text.assemble(plain(reading.target, "bold"), " ", (reading.status.value, style), " ",
                                    plain(reading.values.get("location", "")), "  ", plain(reading.reason)))
        table = Table(show_edge=False, box=None, padding=(0, 2))
        for column in ("backup", "taken at (UTC)", "age", "size", "type"):
            table.add_column(column, no_wrap=True)
        for backup in reading.values.get("backups") or []:
            age = backup.get("age_seconds")
            table.add_row(plain(backup["name"]), plain((backup.get("taken_at") or "")[:19].replace("T", " ")),
                          plain(age_words(age)), plain(format_size(backup.get("size_bytes"))),
                          plain(backup.get("type", "")))
        console.print(table)
    raise SystemExit(code)


@backups.command("verify")
@click.argument("sources", nargs=-1)
@click.option("--file", "file_name", default=None, help="a file name in the source's directory (default: the newest)")
@click.option("--config", "config_path", type=FILE, default=None)
@click.option("--json", "as_json", is_flag=True)
def backups_verify(sources: tuple[str, ...], file_name: str | None, config_path: Path | None, as_json: bool) -> None:
    """Verify the newest dump of each directory source: gzip -t, pg_restore --list, .sha256."""
    config = _config(config_path)
    specs = [s for s in _sources(config, sources) if s.kind == "directory"]
    if not specs:
        fail("no directory sources to verify (pgBackRest checks its own sets: `pgbackrest verify`)")
    if file_name and len(specs) != 1:
        fail("--file needs exactly one source")
    results = asyncio.run(_verify_all(config, specs, file_name))
    if as_json:
        click.echo(json.dumps([doc for doc, _ in results], indent=2, default=str))
    else:
        for doc, words in results:
            _print(doc, words)
    raise SystemExit(0 if all(doc.get("result") == "passed" for doc, _ in results) else 2)


async def _verify_all(config: Config, specs: list, file_name: str | None) -> list[tuple[dict, str]]:
    from launchdeck.core.pool import run_blocking
    from launchdeck.probes.backups.integrity import newest_file, record_in_ledger, verification_ledger, verify_backup
    from launchdeck.probes import resolve_hosts
    from launchdeck.core.redact import Scrubber
    from launchdeck.run.ssh import Connections

    hosts, scrub = resolve_hosts(config), Scrubber(config.secrets)
    ledger = verification_ledger(config)
    results = []
    async with Connections() as connections:
        for spec in specs:
            host = hosts.get(spec.host or "")
            try:
                name = file_name or await newest_file(spec, host, connections)
                verification = await verify_backup(spec, name, host, connections)
            except Exception as error:  # SSH down, no backups, a timeout: that source failed, say why
                results.append(({"source": spec.name, "result": "failed", "summary": scrub(str(error) or
                                 type(error).__name__), "checks": []}, "not recorded: nothing was verified"))
                continue
            words = await run_blocking(record_in_ledger, ledger, verification, timeout=30)
            results.append((verification.to_json() | {"ledger": words}, words))
    return results


def _print(doc: dict, words: str) -> None:
    passed = doc.get("result") == "passed"
    click.secho(f"{visible(doc['source'])}: {visible(doc.get('backup', ''))} {'PASSED' if passed else 'FAILED'}",
                fg="green" if passed else "red", bold=True)
    for check in doc.get("checks", []):
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[check["passed"]]
        click.echo(f"  {mark} {visible(check['name']):<10} {visible(check['detail'])}")
    if not doc.get("checks"):
        click.echo(f"  {visible(doc.get('summary', ''))}")
    click.echo(f"  {visible(words)}")
