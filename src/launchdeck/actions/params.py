"""Parameters: validated against their pattern (fullmatch) before they touch an argv word.

A value is only ever substituted into argv elements; it never meets a shell here, and a remote
command is `shlex.join`ed, so `; rm -rf /` or `$(id)` arrive as one literal argument.
"""

from __future__ import annotations

import re

from launchdeck.core.config_actions import (
    BUILTIN_PARAMS,
    DEFAULT_BUILTIN_PATTERN,
    PLACEHOLDER,
    ActionConfig,
)
from launchdeck.core.errors import LaunchdeckError
from launchdeck.core.plain import visible

MAX_VALUE = 4096  # characters: a parameter is a version or a file name, not a document


class ParamError(LaunchdeckError):
    """A parameter missing, unknown or failing its pattern: the action is refused, nothing runs."""
    title = "refused"


def parse_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--param k=v` words into a dict; a word without `=` or a repeated name is refused."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ParamError(f"--param {visible(pair)!s}: expected NAME=VALUE")
        if name in values:
            raise ParamError(f"--param {visible(name)}: given twice")
        values[name] = value
    return values


def patterns_for(action: str, spec: ActionConfig, fallback: dict[str, str] | None = None) -> dict[str, str]:
    """Every parameter's pattern: the config's, else (a built-in value) `fallback`'s (rollback borrows
    deploy's `version` pattern), else a plain-word default."""
    patterns = dict(spec.params)
    for name in BUILTIN_PARAMS.get(action, set()):
        if name not in patterns:
            patterns[name] = (fallback or {}).get(name, DEFAULT_BUILTIN_PATTERN)
    return patterns


def check_values(values: dict[str, str], patterns: dict[str, str], needed: set[str]) -> dict[str, str]:
    """The values, each matching its whole pattern; unknown or missing names refused, named."""
    unknown = sorted(set(values) - set(patterns))
    if unknown:
        known = ", ".join(sorted(patterns)) or "none"
        raise ParamError(f"unknown parameter {visible(unknown[0])} (this action takes: {known})")
    missing = sorted(needed - set(values))
    if missing:
        raise ParamError(f"missing parameter {missing[0]} (give --param {missing[0]}=VALUE)")
    for name, value in values.items():
        if len(value) > MAX_VALUE:
            raise ParamError(f"parameter {name}: longer than {MAX_VALUE} characters")
        if re.fullmatch(patterns[name], value) is None:
            raise ParamError(f"parameter {name}={visible(value)}: does not match its pattern {patterns[name]}")
    return values


def needed_names(words: list[str]) -> set[str]:
    return {name for word in words for name in PLACEHOLDER.findall(word)}


def render(word: str, values: dict[str, str]) -> str:
    """One argv word with its `{name}`s replaced by already-checked values (one pass: a value that
    itself contains `{x}` stays literal)."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], word)
