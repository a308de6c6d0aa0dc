"""Each module's DOCUMENTATION, EXAMPLES and RETURN parse, render with ansible-doc, and match its argument spec."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.parsing.yaml.loader import AnsibleLoader

MODULES_DIR = Path(__file__).resolve().parents[2] / "collections/ansible_collections/perfgate/fleet/plugins/modules"
MODULES = sorted(p.stem for p in MODULES_DIR.glob("*.py") if p.stem != "__init__")


def load(name: str):
    return importlib.import_module(f"ansible_collections.perfgate.fleet.plugins.modules.{name}")


def documentation(name: str) -> dict:
    """The module's DOCUMENTATION with its perfgate.fleet doc fragments' options merged in, as
    ansible-doc shows it (test_ansible_doc_renders checks ansible-doc itself)."""
    doc = yaml.safe_load(load(name).DOCUMENTATION)
    for fragment in doc.get("extends_documentation_fragment", []):
        assert fragment.startswith("perfgate.fleet."), fragment
        source = importlib.import_module(f"ansible_collections.perfgate.fleet.plugins.doc_fragments.{fragment[15:]}")
        doc["options"].update(yaml.safe_load(source.ModuleDocFragment.DOCUMENTATION)["options"])
    return doc


def assert_spec_matches(documented: dict, spec: dict, where: str) -> None:
    """Every option and sub-option, at every depth: same names, types, defaults, choices, required."""
    assert set(documented) == set(spec), where
    for option, option_spec in spec.items():
        doc, path = documented[option], f"{where}.{option}"
        assert doc["type"] == option_spec.get("type", "str"), path
        assert doc.get("default") == option_spec.get("default"), path
        assert doc.get("choices") == option_spec.get("choices"), path
        assert doc.get("elements") == option_spec.get("elements"), path
        assert bool(doc.get("required", False)) == bool(option_spec.get("required", False)), path
        assert bool(doc.get("suboptions")) == bool(option_spec.get("options")), path
        if option_spec.get("options"):
            assert_spec_matches(doc["suboptions"], option_spec["options"], path)


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name: str) -> None:
    module = load(name)
    assert_spec_matches(documentation(name)["options"], module.ARGUMENT_SPEC, name)
    # EXAMPLES are playbook YAML, so they may use Ansible's tags such as !unsafe.
    assert yaml.load(module.EXAMPLES, Loader=AnsibleLoader)
    assert yaml.safe_load(module.RETURN)


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders(name: str) -> None:
    rendered = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-doc")), f"perfgate.fleet.{name}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert "EXAMPLES" in rendered.stdout and "RETURN VALUES" in rendered.stdout
