import os
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
# The Pulumi program and its policy pack are imported as the `infra` package.
sys.path.insert(0, str(REPO))
# The collection is imported by its full name, as Ansible imports it.
sys.path.insert(0, str(REPO / "collections"))
# Podman must read the repo's containers.conf in every test that starts containers.
os.environ.setdefault("CONTAINERS_CONF", str(REPO / "molecule" / "containers.conf"))
os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))


@pytest.fixture
def start_service():
    """Starts perfgate-bench serve in this process with the given settings; returns its port."""
    from agent_http import request
    from perfgate_bench.service import Service, ServiceConfig
    from servers import free_port, wait_until

    started = []

    def start(**settings):
        config = ServiceConfig.load(None, {"port": free_port(), **settings})
        service = Service(config)
        thread = threading.Thread(target=service.serve, daemon=True)
        thread.start()
        wait_until(lambda: request(config.port, "GET", "/healthz")[0] == 200, 30, "the service answering")
        started.append((service, thread))
        return config.port

    yield start
    for service, thread in started:
        service.shutdown()
        thread.join(10)


def pytest_configure(config):
    # pulumi_aws warns about its own deprecated aliases when imported; none of them is ours.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")
    # make test runs these alone, after the stages it runs side by side: they time real work on
    # this machine and compare the times, so a neighbouring stage's load would bias them.
    config.addinivalue_line("markers", "timing_sensitive: times real work; make test runs it with nothing beside it")
