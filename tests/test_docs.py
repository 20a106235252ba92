"""The README is part of the product: a setting or command it does not document is a bug."""

from __future__ import annotations

import re
from pathlib import Path

from digest.cli import cli
from digest.config import KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def section(heading: str) -> str:
    match = re.search(rf"^### `{re.escape(heading)}`\n(.*?)(?=^#)", README, re.M | re.S)
    assert match, f"README has no section for {heading}"
    return match.group(1)


def test_every_config_key_is_documented_in_its_table() -> None:
    headings = {
        "newsletter": "[newsletter]",
        "build": "[build]",
        "state": "[state]",
        "templates": "[templates]",
        "sources": "[[sources]]",
        "themes": "[[themes]]",
        "catch_all": "[catch_all]",
        "fetch": "[fetch]",
        "send": "[send]",
        "smtp": "[smtp]",
        "dkim": "[dkim]",
        "serve": "[serve]",
        "schedule": "[schedule]",
    }
    assert set(headings) == set(KEYS)
    for table, keys in KEYS.items():
        text = section(headings[table])
        for key in keys:
            assert f"| `{key}` |" in text, f"{table}.{key} is not documented"


def test_every_command_is_documented() -> None:
    for name in cli.commands:
        assert f"`digest {name}" in README, f"digest {name} is not documented"


def test_the_quick_start_is_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2
    assert "digest build" in commands[0]
    assert commands[1] == "make test"
