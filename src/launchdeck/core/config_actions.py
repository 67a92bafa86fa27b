"""[actions] runbooks and [notify]: the config half of deploy / rollback / restore.

Split from config.py (which holds the probes' sections) because an action's rules are their own:
every `{name}` in an argv must have a pattern in `params`, checked when the file is loaded, so a
runbook that could pass an unchecked value to a command never starts. Problems name the field
path (`actions.deploy.steps[1].argv[2]`) like every other config error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from launchdeck.core.config_base import Duration, Section, Timeout, http_url

ACTION_NAMES = ("deploy", "rollback", "restore")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# values launchdeck supplies itself (nobody types them); a pattern in `params` still narrows them
BUILTIN_PARAMS = {"rollback": {"version"}, "restore": {"backup", "database"}}
# the pattern a built-in value meets when the config gives none: one plain word or file name
DEFAULT_BUILTIN_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:+@-]{0,199}"


def placeholders(text: str) -> list[str]:
    """The `{name}` placeholders in one argv word, in order."""
    return PLACEHOLDER.findall(text)


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"not a regular expression ({error})") from None
    return value


class StepConfig(Section):
    """One command of a runbook. `confirm` makes it optional: it runs only when the operator says yes
    to that question (in the CLI: `--step NAME`); otherwise it is skipped and recorded as skipped."""

    name: str | None = None
    argv: list[str] = Field(min_length=1)
    host: str | None = None  # a [[hosts]] name; default: the action's host, else here
    env: dict[str, str] = Field(default_factory=dict)
    timeout: Timeout | None = None  # default: the action's timeout
    confirm: str | None = None  # e.g. "rollback database?"

    @field_validator("argv")
    @classmethod
    def _no_empty_program(cls, argv: list[str]) -> list[str]:
        if not argv[0].strip():
            raise ValueError("the first word (the program) must not be empty")
        return argv

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return env


class ActionConfig(Section):
    """deploy, rollback or restore: one `argv`, a `steps` runbook, or (restore) kind = "postgres"."""

    kind: Literal["steps", "postgres"] = "steps"
    argv: list[str] | None = None  # shorthand for one step
    steps: list[StepConfig] = Field(default_factory=list)
    host: str | None = None  # default host of every step
    env: dict[str, str] = Field(default_factory=dict)  # default env of every step
    params: dict[str, str] = Field(default_factory=dict)  # name -> regex the whole value must match
    confirm: Literal["yes", "typed"] = "typed"
    confirm_word: str | None = None  # typed: default the deck's environment (the database for a restore)
    watch: Duration = 300.0  # deploy: the watch window after the steps succeed; 0 turns it off
    watch_services: list[str] | None = None  # deploy: the [[services]] the window judges (default: all)
    watch_traffic: list[str] | None = None  # deploy: the [[traffic]] targets it judges (default: all)
    timeout: Timeout = 600.0  # each step's default timeout
    auto_rollback: bool = False  # deploy: run rollback by itself when the watch window is breached
    dsn: str | None = None  # postgres: the database restored (password in ${ENV})
    backups: str | None = None  # restore: the [[backups]] source the backup ({backup} in steps) is chosen from
    safety_dir: Path | None = None  # postgres: where the safety dump goes (default: the backups' folder)

    @field_validator("params")
    @classmethod
    def _patterns(cls, params: dict[str, str]) -> dict[str, str]:
        for name, pattern in params.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a parameter name (letters, digits, _)")
            try:
                _pattern(pattern)
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        return params

    @model_validator(mode="after")
    def _shape(self) -> ActionConfig:
        if self.kind == "postgres":
            extra = [name for name in ("argv", "steps") if name in self.model_fields_set]
            if extra:
                raise ValueError(f'kind = "postgres" is a built-in restore: remove {", ".join(extra)}')
            missing = [name for name in ("dsn", "backups") if not getattr(self, name)]
            if missing:
                raise ValueError(f'kind = "postgres" needs {" and ".join(missing)} (the database restored '
                                 "and the [[backups]] source it chooses from)")
            return self
        wrong = [name for name in ("dsn", "safety_dir") if name in self.model_fields_set]
        if wrong:
            raise ValueError(f'{", ".join(wrong)} only apply to kind = "postgres"')
        if self.argv is not None and self.steps:
            raise ValueError("give either argv (one step) or steps (a runbook), not both")
        if self.argv is None and not self.steps:
            raise ValueError("needs argv (one step) or steps = [...] (a runbook)")
        if self.argv is not None and (not self.argv or not self.argv[0].strip()):
            raise ValueError("argv needs at least the program")
        if self.confirm_word is not None and self.confirm != "typed":
            raise ValueError('confirm_word needs confirm = "typed"')
        return self

    def runbook(self) -> list[StepConfig]:
        """The steps, `argv` being a runbook of one."""
        if self.argv is not None:
            return [StepConfig(name="run", argv=self.argv)]
        return list(self.steps)


class ActionsConfig(Section):
    enabled: bool = False
    deploy: ActionConfig | None = None
    rollback: ActionConfig | None = None
    restore: ActionConfig | None = None
    log_dir: Path | None = None  # per-action log files; default: launchdeck-actions/ beside the ledger

    def get(self, name: str) -> ActionConfig | None:
        return getattr(self, name) if name in ACTION_NAMES else None


class NotifyConfig(Section):
    """A Slack-compatible incoming webhook: {"text": ...} plus structured fields."""

    webhook: str
    timeout: Timeout = 5.0
    verdict: bool = True  # post Go/No-Go changes too (engine/announce.py), not only actions
    hold: Duration = 30.0  # a new verdict is posted once it has held this long: a flap is not news

    @field_validator("webhook")
    @classmethod
    def _url(cls, url: str) -> str:
        return http_url(url)


def action_problems(actions: ActionsConfig, host_names: list[str], backups: dict[str, Any]) -> list[str]:
    """Rules that need the rest of the file: placeholders with patterns, hosts and backup sources that exist.
    `backups` maps a [[backups]] name to its section."""
    problems: list[str] = []
    known = ", ".join(host_names) or "none defined"
    for name in ACTION_NAMES:
        spec: ActionConfig | None = getattr(actions, name)
        if spec is None:
            continue
        where = f"actions.{name}"
        if spec.host and spec.host not in host_names:
            problems.append(f"{where}.host: no [[hosts]] entry named {spec.host!r} (known: {known})")
        if spec.kind == "postgres":
            problems += _postgres_problems(name, spec, backups)
            continue
        builtin = BUILTIN_PARAMS.get(name, set())
        problems += _backup_source_problems(name, spec, backups)
        if spec.auto_rollback and name != "deploy":
            problems.append(f"{where}.auto_rollback: only deploy rolls back by itself")
        if spec.auto_rollback and actions.rollback is None:
            problems.append(f"{where}.auto_rollback: needs an [actions.rollback] to run")
        prefix = f"{where}.argv" if spec.argv is not None else None
        for index, step in enumerate(spec.runbook()):
            base = prefix or f"{where}.steps[{index}]"
            words = [(f"{base}[{i}]" if prefix else f"{base}.argv[{i}]", w) for i, w in enumerate(step.argv)]
            words += [(f"{base}.env.{k}", v) for k, v in step.env.items()] if not prefix else []
            for path, word in words:
                for placeholder in placeholders(word):
                    if placeholder not in spec.params and placeholder not in builtin:
                        problems.append(f"{path}: placeholder {{{placeholder}}} has no pattern in "
                                        f"{where}.params (add {placeholder} = '^...$')")
            if step.host and step.host not in host_names:
                problems.append(f"{base}.host: no [[hosts]] entry named {step.host!r} (known: {known})")
        for path, word in [(f"{where}.env.{k}", v) for k, v in spec.env.items()]:
            for placeholder in placeholders(word):
                if placeholder not in spec.params and placeholder not in builtin:
                    problems.append(f"{path}: placeholder {{{placeholder}}} has no pattern in {where}.params")
    return problems


def runbook_words(spec: ActionConfig) -> list[str]:
    """Every word a `{name}` may stand in: argv words and env values, the action's and each step's."""
    return [w for s in spec.runbook() for w in [*s.argv, *s.env.values()]] + list(spec.env.values())


def _backup_source_problems(name: str, spec: ActionConfig, backups: dict[str, Any]) -> list[str]:
    """A steps restore's {backup} is chosen from a [[backups]] source, never typed: the two go together."""
    where = f"actions.{name}"
    uses = any("backup" in placeholders(word) for word in runbook_words(spec))
    if spec.backups is None:
        if name == "restore" and uses:
            return [f"{where}: {{backup}} is chosen from a [[backups]] source: add backups = \"NAME\""]
        return []
    if name != "restore":
        return [f"{where}.backups: only restore chooses a backup"]
    if not uses:
        return [f"{where}.backups: no step uses {{backup}} (the chosen dump's path)"]
    return _source_problems(where, spec, backups, "the restore")


def _source_problems(where: str, spec: ActionConfig, backups: dict[str, Any], what: str) -> list[str]:
    source = backups.get(spec.backups or "")
    if source is None:
        known = ", ".join(backups) or "none defined"
        return [f"{where}.backups: no [[backups]] entry named {spec.backups!r} (known: {known})"]
    if source.kind != "directory":
        return [(f'{where}.backups: {spec.backups!r} is kind = "{source.kind}"; {what} '
                'reads dump files from a kind = "directory" source')]
    if source.host:
        return [(f"{where}.backups: {spec.backups!r} is on host {source.host!r}; {what} lists "
                "dumps on this machine (run launchdeck there)")]
    return []


def _postgres_problems(name: str, spec: ActionConfig, backups: dict[str, Any]) -> list[str]:
    where = f"actions.{name}"
    if name != "restore":
        return [f'{where}.kind: "postgres" is the built-in restore; {name} needs argv or steps']
    return _source_problems(where, spec, backups, "the built-in restore")


def watch_problems(actions: ActionsConfig, services: list[str], traffic: list[str]) -> list[str]:
    """watch_services / watch_traffic name targets that exist, and only on deploy (the one with a window)."""
    problems: list[str] = []
    for name in ACTION_NAMES:
        spec: ActionConfig | None = getattr(actions, name)
        for field_name, known in (("watch_services", services), ("watch_traffic", traffic)):
            chosen = getattr(spec, field_name, None) if spec is not None else None
            if chosen is None:
                continue
            where = f"actions.{name}.{field_name}"
            if name != "deploy":
                problems.append(f"{where}: only deploy has a watch window")
                continue
            section = field_name.removeprefix("watch_")
            for index, target in enumerate(chosen):
                if target not in known:
                    problems.append(f"{where}[{index}]: no [[{section}]] entry named {target!r} "
                                    f"(known: {', '.join(known) or 'none defined'})")
    return problems


def watched_names(spec: ActionConfig, services: list[str], traffic: list[str]) -> tuple[list[str], list[str]]:
    """The services and traffic targets a deploy's watch window judges: the chosen ones, else all."""
    return (list(spec.watch_services) if spec.watch_services is not None else services,
            list(spec.watch_traffic) if spec.watch_traffic is not None else traffic)


def _seconds(value: float) -> str:
    return f"{value / 60:g}m" if value >= 60 and value % 60 == 0 else f"{value:g}s"


def watch_warnings(config: Any) -> list[str]:
    """A deploy's watch window that is not longer than a watched traffic rule's `*_for` can never see that
    rule's sustained breach (crit only once it held that long): said in words, never blocking."""
    spec: ActionConfig | None = config.actions.deploy
    if spec is None or spec.kind != "steps" or spec.watch <= 0:
        return []
    _services, chosen = watched_names(spec, [s.name for s in config.services], [t.name for t in config.traffic])
    warnings = []
    for target in (t for t in config.traffic if t.name in chosen):
        for metric, words in (("error_ratio", "error ratio"), ("p95", "p95")):
            sustain = getattr(target, f"{metric}_for")
            if sustain > 0 and spec.watch <= sustain:
                warnings.append(f"actions.deploy.watch {_seconds(spec.watch)} is not longer than traffic "
                                f"{target.name}'s {metric}_for {_seconds(sustain)}: a sustained {words} breach "
                                f"can never be seen inside the window (make watch longer than {_seconds(sustain)})")
    return warnings
