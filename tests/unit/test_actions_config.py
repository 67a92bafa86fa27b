"""[actions] and [notify] config: runbooks, parameters with patterns, confirmation, the built-in restore."""

from __future__ import annotations

import pytest

from launchdeck.core.config import ConfigError, parse_config

BASE = '''
[deck]
environment = "production"

[[hosts]]
name = "vps1"
address = "127.0.0.1"
user = "deploy"

[[backups]]
name = "main_db"
path = "/var/backups/db"
pattern = "main_db_*.dump"
'''


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + text, "deck.toml", {"PGPASSWORD": "s3cret-pw"})
    return str(caught.value)


def load(text: str):
    return parse_config(BASE + text, "deck.toml", {"PGPASSWORD": "s3cret-pw"})


def test_the_issue_contract_loads():
    config = load(r'''
[actions]
enabled = true

[actions.deploy]
argv = ["/opt/shop/deploy.sh", "{version}"]
params = { version = '^v?[0-9]+(\.[0-9]+)*$' }
confirm = "typed"
watch = "5m"
timeout = "10m"

[actions.rollback]
argv = ["/opt/shop/deploy.sh", "{version}"]

[actions.restore]
kind = "postgres"
dsn = "postgresql://restore:${PGPASSWORD}@127.0.0.1:5432/shop"
backups = "main_db"

[notify]
webhook = "https://hooks.example.com/services/T0/B0/xyz"
''')
    deploy = config.actions.deploy
    assert deploy.watch == 300 and deploy.timeout == 600 and deploy.confirm == "typed"
    assert [s.argv for s in deploy.runbook()] == [["/opt/shop/deploy.sh", "{version}"]]
    assert config.actions.restore.kind == "postgres" and config.notify.timeout == 5
    assert "s3cret-pw" in config.secrets


def test_the_old_one_step_form_still_loads():
    config = load('[actions]\nenabled = false\n[actions.deploy]\nargv = ["deploy.sh"]\nhost = "vps1"\ntimeout = "5m"\n')
    assert config.actions.deploy.runbook()[0].argv == ["deploy.sh"] and config.actions.deploy.host == "vps1"


def test_a_runbook_with_an_optional_step():
    config = load('''
[actions.rollback]
confirm = "yes"
steps = [
  { name = "stop", argv = ["systemctl", "stop", "shop"], host = "vps1" },
  { name = "deploy previous", argv = ["/opt/shop/deploy.sh", "{version}"], env = { REASON = "rollback" } },
  { name = "rollback database", argv = ["/opt/shop/db-rollback.sh"], confirm = "rollback database?" },
]
''')
    steps = config.actions.rollback.runbook()
    assert [s.confirm for s in steps] == [None, None, "rollback database?"] and steps[1].env == {"REASON": "rollback"}


def test_a_placeholder_without_a_pattern_names_its_field_path():
    message = problems('[actions.deploy]\nsteps = [{ argv = ["a"] }, { argv = ["deploy.sh", "--tag={tag}"] }]\n')
    assert "actions.deploy.steps[1].argv[1]: placeholder {tag} has no pattern in actions.deploy.params" in message
    message = problems('[actions.deploy]\nargv = ["deploy.sh", "{version}"]\n')
    assert "deck.toml: actions.deploy.argv[1]: placeholder {version} has no pattern" in message


def test_a_placeholder_in_env_needs_a_pattern_too():
    message = problems('[actions.deploy]\nsteps = [{ argv = ["a"], env = { V = "{v}" } }]\n')
    assert "actions.deploy.steps[0].env.V: placeholder {v} has no pattern" in message


def test_builtin_values_need_no_pattern():
    load('[actions.rollback]\nargv = ["deploy.sh", "{version}"]\n')


def test_a_pattern_that_is_not_a_regex_is_named():
    message = problems('[actions.deploy]\nargv = ["d", "{v}"]\nparams = { v = "([" }\n')
    assert "actions.deploy.params: v: not a regular expression" in message


@pytest.mark.parametrize("body, words", [
    ('argv = ["a"]\nsteps = [{ argv = ["b"] }]', "either argv (one step) or steps"),
    ('confirm = "typed"', "needs argv (one step) or steps"),
    ('argv = ["a"]\nconfirm = "maybe"', "expected one of 'yes' or 'typed'"),
    ('argv = ["a"]\nconfirm = "yes"\nconfirm_word = "x"', 'confirm_word needs confirm = "typed"'),
    ('argv = [""]', "argv needs at least the program"),
    ('steps = [{ argv = [] }]', "steps[0].argv"),
    ('argv = ["a"]\ndsn = "postgresql://x@h/db"', 'only apply to kind = "postgres"'),
    ('argv = ["a"]\nhost = "nowhere"', "actions.deploy.host: no [[hosts]] entry named 'nowhere' (known: vps1)"),
    ('steps = [{ argv = ["a"], host = "nowhere" }]', "actions.deploy.steps[0].host: no [[hosts]] entry named"),
    ('steps = [{ argv = ["a"], env = { "1X" = "v" } }]', "is not an environment variable name"),
    ('argv = ["a"]\ncolour = "red"', "actions.deploy.colour: unknown key (allowed: kind, argv, steps"),
    ('argv = ["a"]\nauto_rollback = true', "auto_rollback: needs an [actions.rollback]"),
])
def test_bad_deploy_configs_are_named(body: str, words: str):
    assert words in problems(f"[actions.deploy]\n{body}\n")


def test_the_builtin_restore_needs_an_existing_local_directory_source():
    assert "actions.restore.backups: no [[backups]] entry named 'nope' (known: main_db)" in problems(
        '[actions.restore]\nkind = "postgres"\ndsn = "postgresql:///shop"\nbackups = "nope"\n')
    assert 'needs dsn and backups' in problems('[actions.restore]\nkind = "postgres"\n')
    assert 'remove argv' in problems('[actions.restore]\nkind = "postgres"\nargv = ["x"]\n'
                                     'dsn = "postgresql:///shop"\nbackups = "main_db"\n')
    assert '"postgres" is the built-in restore; deploy needs argv' in problems(
        '[actions.deploy]\nkind = "postgres"\ndsn = "postgresql:///shop"\nbackups = "main_db"\n')


def test_a_secret_in_a_bad_action_value_is_not_echoed():
    message = problems('[actions.deploy]\nargv = ["a"]\nconfirm = "${PGPASSWORD}"\n')
    assert "s3cret-pw" not in message and "<value from environment>" in message


def test_notify_needs_an_http_url():
    assert "notify.webhook: expected an http:// or https:// URL" in problems('[notify]\nwebhook = "hooks.example.com"\n')


def test_the_starter_templates_actions_block_loads_when_uncommented():
    import re
    from importlib import resources

    text = resources.files("launchdeck").joinpath("templates/starter.toml").read_text(encoding="utf-8")
    block = text[text.index("# [actions]"):]
    setting = re.compile(r"^# (\[|[a-z_]+ = |  \{|\])")
    body = "\n".join(line[2:] for line in block.splitlines() if setting.match(line))
    config = load(body.replace("${SLACK_WEBHOOK_PATH}", "T0/B0/x"))
    assert [s.name for s in config.actions.rollback.runbook()][2] == "rollback database"
    assert config.actions.deploy.watch == 300 and config.actions.restore.backups == "main_db"


def test_a_restore_from_a_source_listing_no_backup_is_refused_in_words(tmp_path):
    """Not an IndexError: the operator learns the source lists nothing (and where it looked)."""
    from launchdeck.actions.plan import Refused
    from launchdeck.actions.postgres import choose_backup

    (tmp_path / "dumps").mkdir()
    config = parse_config(f'[[backups]]\nname = "main_db"\npath = "{tmp_path / "dumps"}"\npattern = "*.dump"\n'
                          '[actions.restore]\nkind = "postgres"\ndsn = "postgresql:///shop"\nbackups = "main_db"\n',
                          str(tmp_path / "deck.toml"), {})
    with pytest.raises(Refused, match="backups 'main_db'.*(no files match|lists no backup)"):
        choose_backup(config, config.backups[0], None)


TARGETS = '''
[[services]]
name = "api"
url = "http://127.0.0.1:9/"

[[traffic]]
name = "checkout"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"
'''


def test_watch_services_and_traffic_choose_existing_targets_and_only_on_deploy():
    config = load(TARGETS + '[actions.deploy]\nargv = ["d"]\nwatch_services = ["api"]\nwatch_traffic = []\n')
    assert config.actions.deploy.watch_services == ["api"] and config.actions.deploy.watch_traffic == []
    assert load(TARGETS + '[actions.deploy]\nargv = ["d"]\n').actions.deploy.watch_traffic is None  # all
    said = problems(TARGETS + '[actions.deploy]\nargv = ["d"]\nwatch_traffic = ["checkout", "cart"]\n'
                    '[actions.rollback]\nargv = ["r"]\nwatch_services = ["api"]\n')
    assert "actions.deploy.watch_traffic[1]: no [[traffic]] entry named 'cart' (known: checkout)" in said
    assert "actions.rollback.watch_services: only deploy has a watch window" in said


def test_a_watch_window_not_longer_than_the_sustain_rule_is_warned_about():
    """The seeds' rule: error rate > 5 % for 5 minutes. A 5-minute window can never see it sustained."""
    from launchdeck.core.config_actions import watch_warnings

    seeds = TARGETS + 'error_ratio_for = "5m"\np95_for = "10m"\n'
    short = load(seeds + '[actions.deploy]\nargv = ["d"]\nwatch = "5m"\n')
    said = watch_warnings(short)
    assert said == [
        ("actions.deploy.watch 5m is not longer than traffic checkout's error_ratio_for 5m: a sustained error ratio "
         "breach can never be seen inside the window (make watch longer than 5m)"),
        ("actions.deploy.watch 5m is not longer than traffic checkout's p95_for 10m: a sustained p95 breach can "
         "never be seen inside the window (make watch longer than 10m)")]
    assert watch_warnings(load(seeds + '[actions.deploy]\nargv = ["d"]\nwatch = "11m"\n')) == []
    assert watch_warnings(load(seeds + '[actions.deploy]\nargv = ["d"]\nwatch = "0s"\n')) == []  # no window
    assert watch_warnings(load(seeds + '[actions.deploy]\nargv = ["d"]\nwatch = "5m"\nwatch_traffic = []\n')) == []


def test_a_restore_runbook_takes_backup_from_its_source_never_typed():
    ok = load('[actions.restore]\nbackups = "main_db"\nargv = ["restore.sh", "{backup}"]\n')
    assert ok.actions.restore.backups == "main_db"
    assert "actions.restore: {backup} is chosen from a [[backups]] source: add backups" in problems(
        '[actions.restore]\nargv = ["restore.sh", "{backup}"]\n')
    assert "actions.restore.backups: no [[backups]] entry named 'nope'" in problems(
        '[actions.restore]\nbackups = "nope"\nargv = ["restore.sh", "{backup}"]\n')
    assert "actions.restore.backups: no step uses {backup}" in problems(
        '[actions.restore]\nbackups = "main_db"\nargv = ["restore.sh"]\n')
    assert "actions.deploy.backups: only restore chooses a backup" in problems(
        '[actions.deploy]\nbackups = "main_db"\nargv = ["d", "{backup}"]\nparams = { backup = "^x$" }\n')
