"""Fixtures the TUI tests share."""

import pytest

from launchdeck.core.config import parse_config

CHECKLIST = """# Launch
## Pre-launch
- [ ] All services healthy <!-- verify: services.all_ok -->
- [ ] Security review done
## Launch day
- [ ] Deploy to production
- [ ] Run smoke tests
## Post-launch
- [ ] Monitor for 24 hours
"""


@pytest.fixture
def deck(tmp_path):
    """A deck with one service and CHECKLIST as its only checklist file, in tmp_path."""
    (tmp_path / "launch.md").write_text(CHECKLIST)
    text = ('[deck]\nname = "shop"\n[[services]]\nname = "web"\nurl = "http://127.0.0.1:9/"\n'
            '[checklists]\nfiles = ["launch.md"]\nledger = "signoff.jsonl"\n')
    return tmp_path, parse_config(text, str(tmp_path / "launchdeck.toml"), {})
