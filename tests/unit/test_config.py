"""The config contract from issue 2, and the error style every later section inherits."""

from pathlib import Path

import pytest

from launchdeck.core.config import ConfigError, find_config, load_config, parse_config

CONTRACT = '''
[deck]
name = "shop"
environment = "production"     # production | staging | any word

[[services]]
name = "api"
url = "http://127.0.0.1:8080/health"
timeout = "2s"                 # durations as "500ms", "2s", "5m", "26h"
'''


def problems(text: str, environ=None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "deck.toml", environ or {})
    return str(caught.value)


def test_issue_contract_is_accepted():
    config = parse_config(CONTRACT, "deck.toml", {})
    assert config.deck.name == "shop" and config.deck.is_production
    assert config.services[0].timeout == 2.0 and config.services[0].expect_status == [200]
    assert config.source == "deck.toml"


def test_every_later_section_contract_is_accepted():
    text = CONTRACT + '''
[[hosts]]
name = "vps1"
address = "127.0.0.1"
user = "deploy"

[prometheus]
url = "http://127.0.0.1:9090"
timeout = "3s"

[[traffic]]
name = "api"
error_ratio = 'sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="api"}[5m]))'

[[containers]]
host = "local"
filters = { label = ["com.example.stack=shop"] }

[[backups]]
name = "main_db"
kind = "directory"
path = "/var/backups/databases"
pattern = "main_db_*.sql.gz"
max_age = "26h"
host = "vps1"

[checklists]
files = ["checklists/launch.md"]
ledger = "launch-signoff.jsonl"

[actions]
enabled = false
'''
    config = parse_config(text, "deck.toml", {})
    assert config.backups[0].max_age == 26 * 3600
    assert config.containers[0].filters == {"label": ["com.example.stack=shop"]}
    assert config.checklists.ledger == Path("launch-signoff.jsonl")


def test_unknown_key_names_file_path_and_allowed_keys():
    message = problems(CONTRACT + 'colour = "red"\n')
    assert message.startswith("deck.toml: services[0].colour: unknown key (allowed: name, timeout, interval, ")
    assert "url, method, expect_status, body_contains" in message


def test_wrong_types_name_each_field_path():
    text = CONTRACT + '[[services]]\nname = "b"\nurl = "http://x"\n[[services]]\nname = "c"\nurl = 5\ntimeout = "fast"\n'
    message = problems(text)
    assert "deck.toml: 2 problems" in message
    assert "services[2].url: expected a valid string, got 5" in message
    assert "services[2].timeout: expected a duration like" in message and "got 'fast'" in message


def test_malformed_toml_names_line_and_column_and_shows_the_line():
    message = problems('[deck]\nname = "shop"\nrefresh = 5s\n')
    assert message.startswith("deck.toml:3:12: malformed TOML")
    assert "refresh = 5s" in message


def test_missing_key_and_bad_choice():
    assert "services[0].url: required key is missing" in problems('[[services]]\nname = "a"\n')
    assert "services[0].method: expected one of 'GET', 'HEAD' or 'POST', got 'PUT'" in problems(
        '[[services]]\nname = "a"\nurl = "http://x"\nmethod = "PUT"\n')
    assert "expected an http:// or https:// URL" in problems('[[services]]\nname = "a"\nurl = "ftp://x"\n')


def test_env_interpolation_records_secrets_and_never_echoes_them():
    text = '[[services]]\nname = "a"\nurl = "http://x/health"\nheaders = { Authorization = "Bearer ${TOKEN}" }\n'
    config = parse_config(text, "deck.toml", {"TOKEN": "s3cret-token"})
    assert config.services[0].headers["Authorization"] == "Bearer s3cret-token"
    assert "s3cret-token" in config.secrets
    bad = problems('[[services]]\nname = "a"\nurl = "http://x"\ntimeout = "${TOKEN}"\n', {"TOKEN": "s3cret-token"})
    assert "s3cret-token" not in bad and "<value from environment>" in bad


def test_env_interpolation_missing_default_and_escape():
    assert "services[0].url: environment variable HOST is not set" in problems(
        '[[services]]\nname = "a"\nurl = "http://${HOST}/health"\n')
    config = parse_config('[[services]]\nname = "a"\nurl = "http://${HOST:-127.0.0.1}/h?x=$${y}"\n', "d", {})
    assert config.services[0].url == "http://127.0.0.1/h?x=${y}"


def test_service_kinds_name_their_own_fields():
    message = problems('[[services]]\nname = "db"\nkind = "tcp"\nhost = "x"\nport = "no"\ncolour = 1\n')
    assert "services[0].port: expected a valid integer" in message
    assert "services[0].colour: unknown key (allowed: name, timeout, interval, latency_warn, latency_crit, kind, " \
           "host, port)" in message
    assert "services[0].kind: expected one of 'http', 'tcp', 'postgres', 'command', got 'ftp'" in problems(
        '[[services]]\nname = "a"\nkind = "ftp"\n')
    config = parse_config('[[services]]\nname = "db"\nkind = "postgres"\ndsn = "postgresql://u:${PW}@h/db"\n'
                          '[[services]]\nname = "disk"\nkind = "command"\nargv = ["df", "-h"]\n', "d", {"PW": "pw123"})
    assert [s.kind for s in config.services] == ["postgres", "command"] and "pw123" in config.secrets


def test_traffic_thresholds_percentages_and_sources():
    config = parse_config('[prometheus]\nurl = "http://127.0.0.1:9090"\n[[traffic]]\nname = "api"\n'
                          'error_ratio_warn = "2%"\nslo = { objective = "99.9%" }\n', "d", {})
    traffic = config.traffic[0]
    assert traffic.error_ratio_warn == 0.02 and traffic.error_ratio_crit == 0.05 and traffic.slo.objective == 0.999
    assert traffic.error_ratio_for == 300 and traffic.p95_crit == 0.5
    assert 'needs a [prometheus] section' in problems('[[traffic]]\nname = "api"\n')
    assert 'needs scrape_url' in problems('[[traffic]]\nname = "api"\nsource = "scrape"\n')
    assert "error_ratio_warn: expected a percentage" in problems(
        '[[traffic]]\nname = "a"\nsource = "scrape"\nscrape_url = "http://x"\nerror_ratio_warn = "lots%"\n')


def test_json_equals_needs_json_field():
    assert "services[0]: json_equals needs json_field" in problems(
        '[[services]]\nname = "a"\nurl = "http://x"\njson_equals = "ok"\n')


def test_cross_section_rules():
    assert "services[1].name: duplicate name 'api'" in problems(CONTRACT + CONTRACT.split("\n\n", 1)[1].split("[deck]")[0]
                                                                 + '[[services]]\nname = "api"\nurl = "http://y"\n')
    assert "containers[0].host: no [[hosts]] entry named 'vps2' (known: none defined)" in problems(
        '[[containers]]\nhost = "vps2"\n')
    assert "latency_warn: must not exceed latency_crit" in problems(
        '[[services]]\nname = "a"\nurl = "http://x"\nlatency_warn = "2s"\nlatency_crit = "1s"\n')


def test_load_config_reports_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(binary)


def test_find_config_prefers_explicit_then_cwd_then_user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ConfigError, match="no config found"):
        find_config(None, work)
    user = tmp_path / "xdg" / "launchdeck" / "launchdeck.toml"
    user.parent.mkdir(parents=True)
    user.write_text(CONTRACT)
    assert find_config(None, work) == user
    (work / "launchdeck.toml").write_text(CONTRACT)
    assert find_config(None, work) == work / "launchdeck.toml"
    assert find_config(Path("/x.toml"), work) == Path("/x.toml")


def test_starter_template_is_a_valid_config():
    from importlib import resources

    text = resources.files("launchdeck").joinpath("templates/starter.toml").read_text()
    config = parse_config(text, "starter.toml", {})
    assert config.services and not config.actions.enabled


@pytest.mark.parametrize("body, words", [
    ('[deck]\nrefresh = "0s"\n', "deck.refresh: must be at least 100ms"),
    ('[[services]]\nname = "a"\nurl = "http://x/"\ninterval = "50ms"\n', "services[0].interval: must be at least 100ms"),
    ('[[services]]\nname = "a"\nurl = "http://x/"\ntimeout = "0s"\n', "services[0].timeout: must be at least 10ms"),
    ('[[backups]]\nname = "d"\npath = "/b"\npattern = "*.gz"\ntimeout = 0\n', "backups[0].timeout: must be at least"),
    ('[[hosts]]\nname = "h"\naddress = "x"\nuser = "u"\nkeepalive = "1ms"\n', "hosts[0].keepalive: must be at least"),
    ('[[services]]\nname = "a"\nurl = "http://x/"\nlatency_warn = "-1s"\n', "services[0].latency_warn"),
    ('[prometheus]\nurl = "127.0.0.1:9090"\n', "prometheus.url: expected an http:// or https:// URL"),
    ('[[traffic]]\nname = "w"\nsource = "scrape"\nscrape_url = "localhost:8080/metrics"\n',
     "traffic[0].scrape_url: expected an http:// or https:// URL"),
    ('[[services]]\nname = "a"\nurl = "http://127.0.0.1:99999/x"\n', "port is a number from 1 to 65535"),
    ('[[services]]\nname = "a"\nurl = "http://127.0.0.1:0/x"\n', "port is a number from 1 to 65535"),
    ('[[services]]\nname = "a"\nkind = "tcp"\nhost = "x"\nport = 70000\n', "services[0].port"),
])
def test_periods_ports_and_urls_are_checked_at_load_with_the_field_path(body, words):
    with pytest.raises(ConfigError) as error:
        parse_config(body, "deck.toml", {})
    assert words in str(error.value)


def test_a_literal_password_in_the_file_is_never_echoed_in_a_config_error():
    for url in ("ftp://admin:S3cr3tPW@db.example/x", "http://admin:S3cr3tPW@127.0.0.1:99999/x"):
        with pytest.raises(ConfigError) as error:
            parse_config(f'[[services]]\nname = "a"\nurl = "{url}"\n', "deck.toml", {})
        assert "S3cr3tPW" not in str(error.value) and "admin:***@" in str(error.value)
