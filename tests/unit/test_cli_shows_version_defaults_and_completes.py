"""``kubelvs --version`` names the installed distribution and the API version; every subcommand's ``--help``
shows its defaults, each once; shell completion (argcomplete's protocol, as bash drives it) lists the
subcommands and, through the lazy import of the chosen one, its flags and choices."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from kubelvs import API_VERSION, cli

IFS = "\013"  # argcomplete's default separator of candidates


def _kubelvs(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "kubelvs.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env)


def test_version_names_the_distribution_and_the_api() -> None:
    done = _kubelvs("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"kube-lvs {metadata.version('kube-lvs')} (API {API_VERSION})"


def test_help_states_the_exit_codes_and_how_to_complete() -> None:
    text = cli.build_parser().format_help()
    assert re.search(r"^  2  it could not start: bad usage, a missing file, no ip_vs module", text, re.M)
    assert 'eval "$(register-python-argcomplete kubelvs)"' in text


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_subcommand_shows_each_default_once(command: str) -> None:
    """An option with a value to show says its default exactly once; no option says it twice."""
    sub = _subcommand(command)
    nested = [p for a in sub._actions if a.dest == "format" for p in a.choices.values()]  # type: ignore[union-attr]
    for parser in [sub, *nested]:
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.default == argparse.SUPPRESS:
                continue
            said = formatter._expand_help(action).count("(default")
            assert said <= 1, f"{command} {action.option_strings}: its default said {said} times"
            if action.default not in (None, False, "", []):
                assert said == 1, f"{command} {action.option_strings}: its default {action.default!r} not said"
        assert "(default: False)" not in parser.format_help()


def _subcommand(command: str) -> argparse.ArgumentParser:
    parser = cli.build_parser(only=command)
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert isinstance(choices, dict)
    found = choices[command]
    assert isinstance(found, argparse.ArgumentParser)
    return found


def test_the_status_help_shows_its_defaults() -> None:
    text = " ".join(_subcommand("status").format_help().split())
    assert "(default: /var/lib/kubelvs/owned.json)" in text and "(default: table)" in text


def _complete(line: str, tmp_path: Path) -> list[str]:
    """What bash's completion function gets for ``line`` (cursor at its end)."""
    out = tmp_path / "completions"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
    }
    command = [sys.executable, "-m", "kubelvs.cli"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return sorted(word.strip() for word in out.read_text().split(IFS))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "kubelvs ", sorted(["-h", "--help", "--version", "-v", "--verbose", *cli.COMMANDS]), id="top"
        ),
        pytest.param("kubelvs st", ["status"], id="subcommand"),
        pytest.param("kubelvs status --st", ["--state-file", "--stats"], id="lazy-flags"),
        pytest.param("kubelvs status -o ", ["json", "table", "yaml"], id="choices"),
        pytest.param("kubelvs import ", ["--help", "-h", "ipvsadm", "keepalived", "metallb"], id="nested"),
        pytest.param("kubelvs import keepalived --n", ["--namespace"], id="nested-flags"),
        pytest.param("kubelvs -v export --th", ["--thresholds"], id="after-a-global-flag"),
    ],
)
def test_completion_lists_commands_and_their_flags(line: str, expected: list[str], tmp_path: Path) -> None:
    assert _complete(line, tmp_path) == expected


def test_the_installed_script_is_marked_for_bash_completion() -> None:
    """What ``register-python-argcomplete kubelvs``'s hook runs before it asks the script to complete."""
    script = Path(sys.executable).parent / "kubelvs"
    command = [sys.executable, "-W", "ignore", "-m", "argcomplete._check_console_script", str(script)]
    assert subprocess.run(command, capture_output=True, timeout=120, check=False).returncode == 0
