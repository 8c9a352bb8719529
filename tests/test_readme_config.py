"""The configuration reference in the README is a config the gateway accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from gateway.config import parse_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _reference_toml() -> str:
    section = README.read_text().split("## Configuration reference", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_reference_config_parses_with_its_secrets_from_the_environment() -> None:
    env = {
        "AURORA_ZYLON_TOKEN": "zt",
        "AURORA_MAKE_TOKEN": "mt",
        "DASHBOARD_API_KEY": "dashboard-api-key-1",
        "CURSOR_SECRET": "a-cursor-secret-of-enough-length",
    }
    settings = parse_settings(tomllib.loads(_reference_toml()), env=env)
    assert settings.cache.backend == "memory"
    assert settings.organizations[0].make is not None
    assert settings.organizations[0].make.organization_id == 42
    assert settings.clients[0].may_read("aurora")
    assert not settings.clients[0].may_read("borealis")


def test_the_production_example_turns_introspection_and_suggestions_off() -> None:
    env = {k: "x" * 20 for k in ("AURORA_ZYLON_TOKEN", "AURORA_MAKE_TOKEN", "DASHBOARD_API_KEY")}
    env["CURSOR_SECRET"] = "a-cursor-secret-of-enough-length"
    settings = parse_settings(tomllib.loads(_reference_toml()), env=env)
    assert settings.graphql.introspection is False
    assert settings.graphql.field_suggestions is False
