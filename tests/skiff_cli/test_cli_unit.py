"""The command line's own rules, without a console: config file modes, errors, parsing."""

import os
import stat

import httpx
import pytest

from skiff_cli import config
from skiff_cli.api import _error_message
from skiff_cli.errors import (
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_PERMISSION,
    EXIT_UNAVAILABLE,
    CliError,
    exit_code_for_status,
)
from skiff_cli.kafka_io import split_line


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "skiff-config"
    monkeypatch.setenv("SKIFF_CONFIG_DIR", str(folder))
    for name in ("SKIFF_URL", "SKIFF_TOKEN", "SKIFF_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_the_config_file_and_its_folder_are_owner_only(config_dir):
    path = config.update_profile("default", url="http://x", token="secret-token")
    assert stat.S_IMODE(os.stat(config_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config.store_key("default", cluster_id=7, username="u", secret="s")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert config.profile(None).keys == {"7": {"username": "u", "secret": "s"}}


def test_environment_overrides_the_profile(config_dir, monkeypatch):
    config.update_profile("default", url="http://stored", token="stored-token")
    monkeypatch.setenv("SKIFF_URL", "http://env/")
    monkeypatch.setenv("SKIFF_TOKEN", "env-token")
    chosen = config.profile(None)
    assert (chosen.url, chosen.token) == ("http://env", "env-token")


def test_no_profile_is_a_usage_error_naming_login(config_dir):
    with pytest.raises(CliError) as caught:
        config.profile("nowhere")
    assert caught.value.exit_code == 2 and "skiff login" in caught.value.message


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, EXIT_ERROR),
        (401, EXIT_PERMISSION),
        (403, EXIT_PERMISSION),
        (404, EXIT_NOT_FOUND),
        (409, EXIT_ERROR),
        (503, EXIT_UNAVAILABLE),
        (504, EXIT_UNAVAILABLE),
    ],
)
def test_http_status_maps_to_the_documented_exit_code(status, code):
    assert exit_code_for_status(status) == code


def test_error_message_is_one_line_with_the_api_detail_and_fields():
    response = httpx.Response(
        400, json={"detail": "Invalid input.", "code": "invalid", "partitions": ["Too many."]}
    )
    assert _error_message(response) == "Invalid input. partitions: Too many."
    assert _error_message(httpx.Response(502, text="<html>\nbad")) == "HTTP 502: <html>"


def test_key_separator_splits_once_and_refuses_a_line_without_it():
    assert split_line("k:v:w", ":") == ("k", "v:w")
    assert split_line("plain", None) == (None, "plain")
    with pytest.raises(CliError) as caught:
        split_line("no separator", ":")
    assert caught.value.exit_code == 2


def test_help_lists_the_command_groups_and_completion_scripts_exist(tmp_path):
    from tests.skiff_cli.cli import Skiff

    skiff = Skiff(tmp_path / "config")
    help_text = skiff("--help").stdout
    for group in ("clusters", "topics", "groups", "keys", "produce", "consume", "usage"):
        assert group in help_text, f"skiff --help does not list {group}"
    # Typer's --show-completion takes no shell name: it shows the script for the shell it finds
    # among the process's parents, so under sh (dash) it printed "Shell sh not supported." and
    # exited 0. With detection off (Typer's own switch for this) it takes the name given.
    named = Skiff(tmp_path / "config", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    for shell in ("bash", "zsh"):
        shown = named("--show-completion", shell)
        assert "_skiff" in shown.stdout.lower().replace("-", "_"), f"no {shell} completion: {shown}"
    assert skiff("no-such-command", ok=False).returncode == 2
