"""The dashboard's first frame imports only what it draws (issue 14: first full paint within 0.6 s).

Each check runs in a fresh interpreter and reads sys.modules: a heavy client library (docker,
asyncssh, psycopg, prometheus-api-client), Markdown parsing (markdown-it) or a subcommand's module
imported at start-up is a regression of the start-up time, whatever machine the tests run on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("docker", "asyncssh", "psycopg", "prometheus_api_client", "markdown_it")
SUBCOMMANDS = ("launchdeck.cli.act", "launchdeck.cli.backups", "launchdeck.cli.checklists",
               "launchdeck.cli.serve", "launchdeck.cli.replay", "launchdeck.cli.wall")

DEMO_LIKE = """
[deck]
name = "budget"
refresh = "2s"

[[services]]
name = "web"
url = "http://127.0.0.1:9/health"

[[traffic]]
name = "web"
source = "scrape"
scrape_url = "http://127.0.0.1:9/metrics"

[[backups]]
name = "main_db"
path = "{folder}"
pattern = "main_db_*.sql.gz"

[checklists]
ledger = "launch-signoff.jsonl"
"""


def imported_after(code: str, names: tuple[str, ...]) -> list[str]:
    """Run `code` in a fresh interpreter; which of `names` (or their submodules) it left in sys.modules."""
    probe = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, sys
        names = {list(names)!r}
        print(json.dumps(sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in sys.modules))))
        """)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_cli_and_the_dashboard_pulls_in_no_heavy_library_and_no_subcommand():
    found = imported_after("import launchdeck.cli, launchdeck.tui.app", HEAVY + SUBCOMMANDS)
    assert found == []


def test_the_check_that_reads_sys_modules_would_see_a_heavy_import():
    """The guard itself can fail: a module imported on purpose is reported."""
    assert imported_after("import launchdeck.cli, markdown_it", HEAVY) == ["markdown_it"]


def test_building_the_dashboard_for_a_demo_like_config_imports_no_heavy_library(tmp_path):
    """What runs before the first paint: load the config, read the packaged checklists, build the
    probes and the app (the engine prepares httpx's clients on its own thread after the paint)."""
    folder = tmp_path / "backups"
    folder.mkdir()
    config = tmp_path / "launchdeck.toml"
    config.write_text(DEMO_LIKE.format(folder=folder), encoding="utf-8")
    found = imported_after(f"""
        from pathlib import Path
        from launchdeck.core.config import load_config
        from launchdeck.tui.app import make_app
        app = make_app(load_config(Path({str(config)!r})))
        assert app.checklists is not None  # the packaged checklists were read, by the line scanner
        """, HEAVY + ("httpx",))
    assert found == []


def test_config_sections_not_in_the_file_build_no_validator():
    """Only the sections a file has build their pydantic validators (each costs start-up time)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from launchdeck.core import config
        loaded = config.parse_config('[[services]]\\nname = "web"\\nurl = "http://127.0.0.1:9/"\\n')
        assert loaded.services[0].name == "web" and loaded.deck.refresh == 5.0
        # the whole Config's validator (every section's) is never built; nor are absent sections' own
        print(config.Config.__pydantic_complete__, config.BackupConfig.__pydantic_complete__,
              config.ActionsConfig.__pydantic_complete__, config.HostConfig.__pydantic_complete__)
        """)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False", "False"]
