"""`launchdeck serve`'s refusals before anything starts: a non-loopback --host without
--allow-remote, a token too short to be a secret."""

from __future__ import annotations

from click.testing import CliRunner

from launchdeck.cli import main


def test_a_non_loopback_host_needs_allow_remote():
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--token", "x" * 32])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output and "x" * 32 not in result.output


def test_a_short_token_is_refused_and_not_echoed():
    result = CliRunner().invoke(main, ["serve", "--token", "hunter2"])
    assert result.exit_code == 2
    assert "shorter than 16" in result.output and "hunter2" not in result.output


def test_a_missing_config_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--config", str(tmp_path / "none.toml"), "--token", "y" * 32])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
