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


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name: str) -> None:
    module = load(name)
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert set(documented) == set(module.ARGUMENT_SPEC)
    for option, spec in module.ARGUMENT_SPEC.items():
        doc = documented[option]
        assert doc["type"] == spec.get("type", "str"), option
        assert doc.get("default") == spec.get("default"), option
        assert doc.get("choices") == spec.get("choices"), option
        assert bool(doc.get("required", False)) == bool(spec.get("required", False)), option
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
