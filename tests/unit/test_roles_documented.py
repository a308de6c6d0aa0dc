"""Every role documents every variable it reads, in argument_specs and in its README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import role_docs
import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (REPO / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_has_argument_specs(role: Path) -> None:
    assert (role / "meta" / "argument_specs.yml").is_file()


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role: Path) -> None:
    """The spec's defaults are the role's defaults, so validation and behaviour agree."""
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults or {}) | {k for k, o in options.items() if o.get("required")}
    for name, value in (defaults or {}).items():
        assert options[name]["default"] == value, name


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_variable_used_is_specified(role: Path) -> None:
    """A role variable read in tasks or templates but missing from the spec escapes validation."""
    options = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    internal = set()
    for vars_file in (role / "vars").glob("*.yml"):
        internal |= set(yaml.safe_load(vars_file.read_text()) or {})
    used: set[str] = set()
    defined: set[str] = set()  # registered results, set_fact names and task-level vars
    for source in [*role.glob("tasks/*.yml"), *role.glob("handlers/*.yml"), *role.rglob("templates/*.j2")]:
        text = "\n".join(line for line in source.read_text().splitlines() if "tags:" not in line)
        used |= set(re.findall(rf"\b({role.name}_[a-z0-9_]+)", text))
        defined |= set(re.findall(rf"^\s+register:\s*({role.name}_[a-z0-9_]+)", text, re.M))
        defined |= set(re.findall(rf"^\s+({role.name}_[a-z0-9_]+):", text, re.M))
    missing = used - set(options) - internal - defined
    assert not missing, f"variables read but not in argument_specs: {sorted(missing)}"


def test_readme_tables_match_argument_specs() -> None:
    assert role_docs.stale_roles(write=False) == []
