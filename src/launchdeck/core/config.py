"""launchdeck.toml: pydantic models, ${ENV} interpolation for secrets, and errors that name the spot.

Every problem is reported as `file: field.path: what was expected` (or `file:line:col` for
malformed TOML) in a ConfigError; the CLI prints it and exits 2, never with a traceback.
"""

from __future__ import annotations

import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import (AfterValidator, BaseModel, Discriminator, Field, PrivateAttr, Tag, field_validator,
                      model_validator)

from launchdeck.core.redact import mask_passwords
from launchdeck.core.config_base import (ConfigError, Duration, Period, Ratio, Section, Size, Timeout, http_url,
                                         validate_sections)
from launchdeck.core.config_actions import ActionConfig, ActionsConfig, NotifyConfig, StepConfig, action_problems  # noqa: F401

CONFIG_NAME = "launchdeck.toml"


class DeckConfig(Section):
    name: str = "launchdeck"
    environment: str = "production"
    refresh: Period = 5.0
    # the flight recorder (engine/recorder.py): a JSON Lines path; unset: beside the ledger; "" or false: off
    record: str | bool | None = None
    # where the dashboard's probes run (engine/engine.py): the engine's thread, or a process of their own
    engine: Literal["thread", "process"] = "thread"
    # the terminal bell when a target newly turns crit (the dashboard's tab may be in the background)
    bell: bool = False

    @property
    def is_production(self) -> bool:
        return self.environment.lower() in {"production", "prod", "live"}


class HostConfig(Section):
    """An SSH host; probes and actions name it by `name`. Host keys are always verified."""

    name: str
    address: str
    port: int = Field(22, ge=1, le=65535)
    user: str
    key: Path | None = None
    known_hosts: Path | None = None  # default: ~/.ssh/known_hosts
    connect_timeout: Timeout = 10.0
    keepalive: Period = 15.0


class ServiceBase(Section):
    """Fields every service probe has: a unique name, a timeout, a poll interval."""

    name: str
    timeout: Timeout = 2.0
    interval: Period | None = None  # default: deck.refresh
    latency_warn: Duration = 0.5
    latency_crit: Duration = 1.0


class HttpService(ServiceBase):
    kind: Literal["http"] = "http"
    url: str
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200])
    body_contains: str | None = None  # the body must contain this text
    json_field: str | None = None  # dotted path into a JSON body, e.g. "status" or "checks.db"
    json_equals: str | int | float | bool | None = None  # ... must equal this
    headers: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return http_url(url)

    @model_validator(mode="after")
    def _json_pair(self) -> HttpService:
        if self.json_equals is not None and not self.json_field:
            raise ValueError("json_equals needs json_field (the dotted path it compares)")
        return self


class TcpService(ServiceBase):
    kind: Literal["tcp"]
    host: str
    port: int = Field(ge=1, le=65535)


class PostgresService(ServiceBase):
    kind: Literal["postgres"]
    dsn: str  # libpq URL or key=value; put the password in ${ENV}
    connections_warn: float = 0.8  # share of max_connections in use
    connections_crit: float = 0.95
    replication_lag_warn: Duration = 30.0  # on a replica
    replication_lag_crit: Duration = 300.0
    transaction_age_warn: Duration = 300.0  # oldest open transaction
    transaction_age_crit: Duration = 1800.0


class CommandService(ServiceBase):
    kind: Literal["command"]
    argv: list[str] = Field(min_length=1)  # run without a shell; exit 0 is ok
    timeout: Timeout = 10.0


def _service_kind(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("kind", "http"))
    return str(getattr(data, "kind", "http"))


ServiceConfig = Annotated[
    Annotated[HttpService, Tag("http")] | Annotated[TcpService, Tag("tcp")]
    | Annotated[PostgresService, Tag("postgres")] | Annotated[CommandService, Tag("command")],
    Discriminator(_service_kind),
]


class PrometheusConfig(Section):
    url: Annotated[str, AfterValidator(http_url)]
    timeout: Timeout = 3.0


class SloConfig(Section):
    objective: Ratio  # e.g. "99.9%"
    window: Duration = 30 * 86400.0


class TrafficConfig(Section):
    name: str
    source: Literal["prometheus", "scrape"] = "prometheus"
    scrape_url: Annotated[str, AfterValidator(http_url)] | None = None
    job: str | None = None  # default job label for the default queries: the name
    error_ratio: str | None = None  # PromQL overrides
    p95: str | None = None
    rate: str | None = None
    window: Duration = 300.0  # the [5m] of the default queries and of scrape-mode rates
    interval: Period | None = None
    timeout: Timeout | None = None  # default: prometheus.timeout, or 3s for scrape
    error_ratio_warn: Ratio = 0.01
    error_ratio_crit: Ratio = 0.05
    error_ratio_for: Duration = 300.0  # crit only once sustained this long; warn meanwhile
    p95_warn: Duration = 0.3
    p95_crit: Duration = 0.5
    p95_for: Duration = 0.0
    slo: SloConfig | None = None

    @model_validator(mode="after")
    def _scrape_needs_url(self) -> TrafficConfig:
        if self.source == "scrape" and not self.scrape_url:
            raise ValueError("source = \"scrape\" needs scrape_url (the service's /metrics URL)")
        return self


class ContainersConfig(Section):
    host: str = "local"  # the local engine (DOCKER_HOST or the default socket), or a [[hosts]] name
    filters: dict[str, list[str] | str] = Field(default_factory=dict)  # docker SDK filters
    interval: Period | None = None
    timeout: Timeout = 5.0
    cpu_warn: float = Field(70.0, ge=0)  # percent of one core, as `docker stats` shows it
    cpu_crit: float = Field(90.0, ge=0)
    memory_warn: float = Field(80.0, ge=0, le=100)  # percent of the container's memory limit
    memory_crit: float = Field(90.0, ge=0, le=100)


# which fields each backup kind reads; setting another kind's field is a mistake worth naming
BACKUP_FIELDS = {
    "directory": {"path", "pattern", "name_time", "name_timezone", "min_size", "host", "verify_timeout"},
    "pgbackrest": {"stanza", "command", "min_size", "host"},
    "wal": {"dsn", "host"},
}


class BackupConfig(Section):
    """One backup source. Freshness follows Barman's last_backup_maximum_age: warn past 80 %."""

    name: str
    kind: Literal["directory", "pgbackrest", "wal"] = "directory"
    max_age: Duration = 26 * 3600.0
    interval: Period = 60.0  # backups change hourly at most: a listing every minute is plenty
    timeout: Timeout = 15.0
    keep: int = Field(20, ge=1, le=500)  # recent backups listed per source (the restore chooser's list)
    host: str | None = None  # a [[hosts]] entry: list, run pgbackrest, or reach the dsn, over SSH
    path: str | None = None  # directory: the folder holding the dumps
    pattern: str = "*"  # directory: glob on file names, e.g. "main_db_*.sql.gz"
    name_time: str | None = None  # directory: strftime stamp in the name, e.g. "%Y%m%d_%H%M%S"; else mtime
    name_timezone: str = "UTC"  # the zone name_time stamps are written in
    min_size: Size | None = None  # newest smaller than this: warn (bytes, or "10MB", "1GiB")
    verify_timeout: Duration = 1800.0  # directory: gzip -t / pg_restore --list / sha256sum of one file
    stanza: str | None = None  # pgbackrest: one stanza (default: every stanza `info` reports)
    command: list[str] = Field(default_factory=lambda: ["pgbackrest"], min_length=1)  # e.g. sudo -u postgres ...
    dsn: str | None = None  # wal: the PostgreSQL whose pg_stat_archiver is read

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> BackupConfig:
        wrong = sorted((self.model_fields_set & set().union(*BACKUP_FIELDS.values())) - BACKUP_FIELDS[self.kind])
        if wrong:
            raise ValueError(f"{', '.join(wrong)} not used by kind = \"{self.kind}\" "
                             f"(it reads: {', '.join(sorted(BACKUP_FIELDS[self.kind]))})")
        if self.kind == "directory" and not self.path:
            raise ValueError('kind = "directory" needs path (the folder holding the dumps)')
        if self.kind == "wal" and not self.dsn:
            raise ValueError('kind = "wal" needs dsn (the PostgreSQL whose pg_stat_archiver is read)')
        if self.name_time is not None:
            from launchdeck.core.stamps import stamp_regex

            stamp_regex(self.name_time)  # raises ValueError naming the directive it cannot read
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.name_timezone)
        except Exception:
            raise ValueError(f"name_timezone: unknown time zone {self.name_timezone!r} (e.g. \"UTC\", "
                             "\"Europe/Berlin\")") from None
        return self


PhaseName = Literal["pre-launch", "launch-day", "post-launch", "other"]


class ChecklistsConfig(Section):
    files: list[Path] = Field(default_factory=list)  # empty: the packaged defaults
    ledger: Path = Path("launch-signoff.jsonl")
    # a heading's text or a file's name -> its phase, where the keywords guess wrong
    phases: dict[str, PhaseName] = Field(default_factory=dict)


class Config(Section):
    deck: DeckConfig = Field(default_factory=DeckConfig)
    hosts: list[HostConfig] = Field(default_factory=list)
    services: list[ServiceConfig] = Field(default_factory=list)
    prometheus: PrometheusConfig | None = None
    traffic: list[TrafficConfig] = Field(default_factory=list)
    containers: list[ContainersConfig] = Field(default_factory=list)
    backups: list[BackupConfig] = Field(default_factory=list)
    checklists: ChecklistsConfig | None = None
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    notify: NotifyConfig | None = None

    _source: str = PrivateAttr(default="<config>")
    _secrets: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def source(self) -> str:
        return self._source

    def resolve(self, path: Path) -> Path:
        """A path from the file, relative to the file's own directory (not the cwd)."""
        path = path.expanduser()
        if path.is_absolute() or self._source.startswith("<"):
            return path
        return Path(self._source).parent / path

    @property
    def secrets(self) -> frozenset[str]:
        """Every value that came from ${ENV} interpolation: never rendered, logged or printed."""
        return self._secrets


# ---------------------------------------------------------------- loading

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _path_text(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def _interpolate(node: Any, loc: tuple[Any, ...], environ: Mapping[str, str],
                 secrets: set[str], problems: list[str]) -> Any:
    """Replace ${NAME} (or ${NAME:-default}) in every string; `$$` is a literal dollar."""
    if isinstance(node, dict):
        return {k: _interpolate(v, loc + (k,), environ, secrets, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, loc + (i,), environ, secrets, problems) for i, v in enumerate(node)]
    if not isinstance(node, str) or "$" not in node:
        return node

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        value = environ.get(name)
        if value is None:
            if default is None:
                problems.append(f"{_path_text(loc)}: environment variable {name} is not set")
                return ""
            return default
        secrets.add(value)
        return value

    return _ENV_REF.sub(substitute, node)


SERVICE_KINDS = {"http": HttpService, "tcp": TcpService, "postgres": PostgresService, "command": CommandService}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic puts the union tag into the path (services[0].tcp.port): people wrote services[0].port."""
    cleaned: list[Any] = []
    for index, part in enumerate(loc):
        if index >= 2 and loc[index - 2] == "services" and isinstance(loc[index - 1], int) and part in SERVICE_KINDS:
            continue
        cleaned.append(part)
    return tuple(cleaned)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that owns the field at `loc` (tags included), to list its allowed keys."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        if part in SERVICE_KINDS and model is not Config and not hasattr(model, "model_fields"):
            model = SERVICE_KINDS[part]
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        model = annotation if part == "services" else _unwrap(annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    for arg in typing.get_args(annotation) or ():
        inner = _unwrap(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation


def _describe_safely(error: Mapping[str, Any], scrub: set[str]) -> str:
    """Never let the wording of a config error become a traceback of its own."""
    try:
        return _describe(error, scrub)
    except Exception:  # fall back to pydantic's own words, still scrubbed of secrets
        text = f"{_path_text(tuple(error.get('loc', ())))}: {error.get('msg', 'invalid value')}"
        for secret in scrub:
            text = text.replace(secret, "<value from environment>")
        return text


def _describe(error: Mapping[str, Any], scrub: set[str]) -> str:
    raw_loc = tuple(error["loc"])
    loc = _clean_loc(raw_loc)
    kind = error["type"]
    where = _path_text(loc)
    if kind == "union_tag_invalid":
        kinds = ", ".join(repr(k) for k in SERVICE_KINDS)
        return f"{where}.kind: expected one of {kinds}, got {error['ctx']['tag']!r}"
    if kind == "extra_forbidden":
        owner = _model_at(raw_loc[:-1])
        allowed = f" (allowed: {', '.join(owner.model_fields)})" if owner else ""
        return f"{where}: unknown key{allowed}"
    if kind == "missing":
        return f"{where}: required key is missing"
    message = str(error["msg"])
    message = re.sub(r"^Value error, ", "", message)
    message = re.sub(r"^Input should be ", "expected ", message)
    if kind == "literal_error":
        message = message.replace("expected ", "expected one of ", 1)
    value = error.get("input")
    if "got " not in message and not isinstance(value, (dict, list)) and value is not None:
        shown = "<value from environment>" if isinstance(value, str) and value in scrub else repr(value)
        message += f", got {shown}"
    for secret in scrub:
        message = message.replace(secret, "<value from environment>")
    return f"{where}: {mask_passwords(message)}"  # a literal password in the file is not echoed either


def _toml_problem(error: tomllib.TOMLDecodeError, text: str, source: str) -> ConfigError:
    match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
    reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error)) or "malformed TOML"
    if not match:
        return ConfigError(source, [f"malformed TOML: {reason}"])
    line, column = int(match.group(1)), int(match.group(2))
    lines = text.splitlines()
    shown = lines[line - 1] if 0 < line <= len(lines) else ""
    caret = " " * (max(column, 1) - 1) + "^"
    return ConfigError(f"{source}:{line}:{column}", [f"malformed TOML: {reason}\n    {shown}\n    {caret}"])


def parse_config(text: str, source: str = "<config>", environ: Mapping[str, str] | None = None) -> Config:
    """Parse TOML text into a Config, or raise ConfigError listing every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _toml_problem(error, text, source) from None
    secrets: set[str] = set()
    problems: list[str] = []
    data = _interpolate(raw, (), os.environ if environ is None else environ, secrets, problems)
    if problems:
        raise ConfigError(source, problems)
    config, errors = validate_sections(Config, data)  # only the sections in the file build their validators
    if config is None:
        raise ConfigError(source, [_describe_safely(e, secrets) for e in errors])
    problems = _cross_check(config)
    if problems:
        raise ConfigError(source, problems)
    config._source = source
    config._secrets = frozenset(secrets)
    return config


def _cross_check(config: Config) -> list[str]:
    """Rules that span sections: unique names, references to [[hosts]] that exist."""
    problems: list[str] = []
    host_names = [h.name for h in config.hosts]
    for section in ("hosts", "services", "traffic", "backups"):
        seen: set[str] = set()
        for index, item in enumerate(getattr(config, section)):
            if item.name in seen:
                problems.append(f"{section}[{index}].name: duplicate name {item.name!r}")
            seen.add(item.name)
    known = ", ".join(host_names) or "none defined"
    refs = [(f"containers[{i}].host", c.host) for i, c in enumerate(config.containers) if c.host != "local"]
    refs += [(f"backups[{i}].host", b.host) for i, b in enumerate(config.backups) if b.host]
    for where, name in refs:
        if name not in host_names:
            problems.append(f"{where}: no [[hosts]] entry named {name!r} (known: {known})")
    problems += action_problems(config.actions, host_names, {b.name: b for b in config.backups})
    from launchdeck.core.config_actions import watch_problems  # deploy's watch_services / watch_traffic

    problems += watch_problems(config.actions, [s.name for s in config.services], [t.name for t in config.traffic])
    for index, service in enumerate(config.services):
        if service.latency_warn > service.latency_crit:
            problems.append(f"services[{index}].latency_warn: must not exceed latency_crit")
    for index, traffic in enumerate(config.traffic):
        if traffic.source == "prometheus" and config.prometheus is None:
            problems.append(f"traffic[{index}].source: \"prometheus\" needs a [prometheus] section with its url "
                            "(or use source = \"scrape\" with scrape_url)")
        for metric in ("error_ratio", "p95"):
            if getattr(traffic, f"{metric}_warn") > getattr(traffic, f"{metric}_crit"):
                problems.append(f"traffic[{index}].{metric}_warn: must not exceed {metric}_crit")
    return problems


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot read: {error}"]) from None
    return parse_config(text, str(path), environ)


def user_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("launchdeck")) / CONFIG_NAME


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path:
    """--config if given; else ./launchdeck.toml; else the user config directory."""
    if explicit is not None:
        return explicit
    candidates = [(cwd or Path.cwd()) / CONFIG_NAME, user_config_path()]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " and ".join(str(c) for c in candidates)
    raise ConfigError(CONFIG_NAME, [f"no config found (looked in {looked}); "
                                    "create one with `launchdeck init` or pass --config FILE"])

