import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
# The Pulumi program and its policy pack are imported as the `infra` package.
sys.path.insert(0, str(REPO))
# The collection is imported by its full name, as Ansible imports it.
sys.path.insert(0, str(REPO / "collections"))
# Podman must read the repo's containers.conf in every test that starts containers.
os.environ.setdefault("CONTAINERS_CONF", str(REPO / "molecule" / "containers.conf"))
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))


def pytest_configure(config):
    # pulumi_aws warns about its own deprecated aliases when imported; none of them is ours.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")
