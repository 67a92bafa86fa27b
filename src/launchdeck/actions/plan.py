"""What an action will do, worked out before anything runs: rendered argv, hosts, parameters, the word
to type. Every refusal (actions disabled, an unknown action, a parameter failing its pattern, no
previous good version, the wrong confirmation word) is raised here, so a refused action has not
touched the lock, the ledger or any host.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launchdeck.actions.params import (
    ParamError,
    check_values,
    needed_names,
    patterns_for,
    render,
)
from launchdeck.core.config import Config, HostConfig
from launchdeck.core.config_actions import ACTION_NAMES, ActionConfig, runbook_words
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.plain import visible
from launchdeck.core.redact import Scrubber


class Refused(LaunchdeckError):
    """The action will not run; the message says why. Nothing ran."""
    title = "refused"


@dataclass
class PlannedStep:
    """One step, fully rendered. `call` is a built-in step done in Python (restore's checks)."""

    name: str
    argv: list[str]
    host: HostConfig | None
    timeout: float
    env: dict[str, str] = field(default_factory=dict)
    question: str | None = None  # optional step: runs only when the operator says yes to this
    shown: list[str] | None = None  # argv as recorded and shown, when it differs (a DSN without password)
    stdin: Path | None = None
    gunzip: bool = False
    call: Callable[[], Awaitable[Any]] | None = None
    secret_env: frozenset[str] = frozenset()  # env names whose values are never recorded

    @property
    def display(self) -> list[str]:
        return self.shown if self.shown is not None else self.argv

    def to_json(self) -> dict:
        return {"name": self.name, "argv": self.display, "host": self.host.name if self.host else "local",
                "env": sorted(self.env), "timeout": self.timeout, "optional": self.question}


@dataclass
class Plan:
    action: str
    spec: ActionConfig
    params: dict[str, str]
    steps: list[PlannedStep]
    confirm: str  # "yes" | "typed"
    word: str  # what must be typed
    watch: float
    backup: Path | None = None
    notes: list[str] = field(default_factory=list)
    gate: dict | None = None  # the phase gate as it stood (actions/gates.py): recorded in the start record
    warnings: list[str] = field(default_factory=list)  # what the dashboard said before the confirmation

    @property
    def hosts(self) -> list[HostConfig]:
        seen: dict[str, HostConfig] = {}
        for step in self.steps:
            if step.host is not None:
                seen.setdefault(step.host.name, step.host)
        return list(seen.values())

    def summary(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params.items())
        return visible(f"{self.action}{' ' + params if params else ''}")


def spec_of(config: Config, name: str, allow_actions: bool) -> ActionConfig:
    if not (allow_actions or config.actions.enabled):
        raise Refused("actions are not enabled: set [actions] enabled = true or pass --allow-actions")
    if name not in ACTION_NAMES:
        raise Refused(f"unknown action {visible(name)!r} (one of: {', '.join(ACTION_NAMES)})")
    spec = config.actions.get(name)
    if spec is None:
        raise Refused(f"no [actions.{name}] in {config.source}")
    return spec


def plan_steps(config: Config, name: str, spec: ActionConfig, values: dict[str, str],
               hosts: dict[str, HostConfig]) -> list[PlannedStep]:
    """The runbook with `{name}`s replaced by the checked values; `shown` (what is printed, logged and
    recorded) has every ${ENV} value of the config masked."""
    scrub = Scrubber(config.secrets)
    steps = []
    for index, step in enumerate(spec.runbook()):
        host_name = step.host or spec.host
        env = {k: render(v, values) for k, v in {**spec.env, **step.env}.items()}
        argv = [render(w, values) for w in step.argv]
        shown = [scrub(w) for w in argv]
        steps.append(PlannedStep(step.name or f"step {index + 1}", argv, hosts[host_name] if host_name else None,
                                 step.timeout or spec.timeout, env, step.confirm,
                                 shown=shown if shown != argv else None))
    return steps


def build_plan(config: Config, name: str, given: dict[str, str], *, allow_actions: bool,
               records: list | None = None, backup: str | None = None) -> Plan:
    """Everything the action will do; Refused or ParamError if it must not start."""
    from launchdeck.probes import resolve_hosts

    spec = spec_of(config, name, allow_actions)
    hosts = resolve_hosts(config)
    deploy = config.actions.deploy
    patterns = patterns_for(name, spec, deploy.params if deploy and name == "rollback" else None)
    if spec.kind == "postgres":
        from launchdeck.actions.postgres import plan_restore

        return plan_restore(config, spec, given, backup, patterns)
    if backup is not None and not spec.backups:
        raise ParamError(f"--backup: [actions.{name}] chooses no backup (set backups = \"NAME\", a [[backups]] "
                         "source, and use {backup} in its steps)")
    needed = needed_names(runbook_words(spec))
    values = dict(given)
    notes: list[str] = []
    chosen = None
    if spec.backups:
        if "backup" in given:
            raise ParamError("the backup is chosen from the backups list (--backup FILE), not typed as --param")
        chosen = chosen_backup(config, spec, backup)
        values["backup"] = chosen.name  # checked against its pattern as a name; the steps get its path
        notes.append(f"restoring {chosen.name} from backups {spec.backups!r}")
    if name == "rollback" and "version" in needed:
        if "version" in given:
            raise ParamError("rollback's version is the previous good version from the ledger; it is not typed")
        from launchdeck.actions.record import deployed_versions

        current, previous = deployed_versions(records or [])
        if previous is None:
            raise Refused("no previous good version in the ledger (no earlier deploy whose watch window "
                          f"passed{'; current is ' + visible(current) if current else ''})")
        values["version"] = previous
        notes.append(f"rolling back from {current} to {previous}" if current else f"rolling back to {previous}")
    check_values(values, patterns, needed)
    word = spec.confirm_word or (config.deck.environment if spec.confirm == "typed" else "yes")
    rendered = {**values, "backup": str(chosen)} if chosen is not None else values
    plan = Plan(name, spec, values, plan_steps(config, name, spec, rendered, hosts),
                spec.confirm, word if spec.confirm == "typed" else "yes",
                spec.watch if name == "deploy" else 0.0, backup=chosen, notes=notes)
    return plan


def chosen_backup(config: Config, spec: ActionConfig, wanted: str | None) -> Path:
    """A steps restore's backup: `wanted` must be one of the source's listed files (a bare name, or that
    name inside the source's folder: no `..`, no other folder); None chooses the newest listed."""
    from launchdeck.actions.postgres import choose_backup

    source = next(b for b in config.backups if b.name == spec.backups)
    return choose_backup(config, source, wanted)


def check_confirmation(plan: Plan, typed: str | None) -> None:
    """The typed word must be exactly the plan's (compared in constant time; case matters)."""
    if typed is None or not hmac.compare_digest(typed.encode(), plan.word.encode()):
        what = "type the word" if plan.confirm == "typed" else "confirm with"
        raise Refused(f"confirmation does not match: {what} {visible(plan.word)!r} to run {plan.summary()}")
