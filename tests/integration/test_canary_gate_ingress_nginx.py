"""canary_gate's ingress_nginx backend: the canary Ingress's weight annotation set through the real
kubernetes client and read back. The API server is tests/kube_api_standin.py (see there why)."""

from __future__ import annotations

import json

import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import (
    INGRESS_NGINX_CANARY,
    INGRESS_NGINX_WEIGHT,
    INGRESS_NGINX_WEIGHT_TOTAL,
    IngressNginxCanary,
    TrafficError,
    kubernetes_api,
)
from ansible_run import run_task
from kube_api_standin import KubeApiStandIn
from servers import free_port

from infra.kubernetes.traffic_router import CANARY_WEIGHT_ANNOTATION

NAMESPACE, INGRESS = "perfgate", "perfgate-bench-canary"


@pytest.fixture
def api_server():
    with KubeApiStandIn() as server:
        server.add_ingress(NAMESPACE, INGRESS, {INGRESS_NGINX_CANARY: "true", INGRESS_NGINX_WEIGHT: "0"})
        yield server


def backend(server: KubeApiStandIn, tmp_path, token: str | None = None, ingress: str = INGRESS) -> IngressNginxCanary:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", token)
    return IngressNginxCanary(kubernetes_api("NetworkingV1Api", str(kubeconfig), None), NAMESPACE, ingress, timeout=5)


def test_the_pulumi_program_declares_the_annotation_the_gate_sets():
    assert CANARY_WEIGHT_ANNOTATION == INGRESS_NGINX_WEIGHT


def test_the_module_moves_the_weight_step_by_step_and_rolls_back(tmp_path, api_server, healthy_canary_counts):
    task = {
        "perfgate.fleet.canary_gate": {
            "rollout": "k8s-test",
            "state_dir": str(tmp_path / "state"),
            **healthy_canary_counts,
            "traffic": {
                "ingress_nginx": {
                    "namespace": NAMESPACE,
                    "ingress": INGRESS,
                    "kubeconfig": str(api_server.write_kubeconfig(tmp_path / "kubeconfig")),
                }
            },
        }
    }
    for expected in (10, 25):
        result = run_task(task)
        assert not result.get("failed"), result.get("msg")
        assert result["decision"] == "advance"
        assert result["weight_after"] == expected
        assert api_server.annotations(NAMESPACE, INGRESS)[INGRESS_NGINX_WEIGHT] == str(expected)
    patches = [content_type for method, _, content_type in api_server.requests if method == "PATCH"]
    assert patches == ["application/json-patch+json"] * 2
    rollback = run_task({"perfgate.fleet.canary_gate": {**task["perfgate.fleet.canary_gate"], "action": "rollback"}})
    assert rollback["weight_after"] == 0
    assert api_server.annotations(NAMESPACE, INGRESS)[INGRESS_NGINX_WEIGHT] == "0"


def test_weight_is_scaled_to_the_ingress_weight_total(tmp_path, api_server):
    api_server.add_ingress(NAMESPACE, "fine", {INGRESS_NGINX_CANARY: "true", INGRESS_NGINX_WEIGHT_TOTAL: "1000"})
    traffic = backend(api_server, tmp_path, ingress="fine")
    assert traffic.share() == 0.0  # no weight annotation yet: ingress-nginx sends the canary nothing
    applied = traffic.set_share(25)
    assert applied == {"weights": {"canary-weight": 250, "canary-weight-total": 1000}, "share": 25.0}
    assert api_server.annotations(NAMESPACE, "fine")[INGRESS_NGINX_WEIGHT] == "250"
    assert traffic.share() == 25.0


def test_a_weight_moved_by_someone_else_meanwhile_is_not_overwritten(tmp_path, api_server):
    traffic = backend(api_server, tmp_path)

    def someone_else_sets_five(server):
        server.after_read = None
        server.annotations(NAMESPACE, INGRESS)[INGRESS_NGINX_WEIGHT] = "5"

    api_server.after_read = someone_else_sets_five
    with pytest.raises(TrafficError, match="someone else edited the Ingress"):
        traffic.set_share(10)
    assert api_server.annotations(NAMESPACE, INGRESS)[INGRESS_NGINX_WEIGHT] == "5"


def test_a_patch_the_api_accepts_but_does_not_apply_fails_the_read_back(tmp_path, api_server):
    api_server.drop_patches = True
    with pytest.raises(TrafficError, match="read-back differs: wanted canary-weight 10, got 0"):
        backend(api_server, tmp_path).set_share(10)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: setattr(s, "refuse_patches", True), "need get and patch on ingresses"),
        (lambda s: s.add_ingress(NAMESPACE, INGRESS, {INGRESS_NGINX_WEIGHT: "0"}), "is not an ingress-nginx canary"),
        (
            lambda s: s.add_ingress(NAMESPACE, INGRESS, {INGRESS_NGINX_CANARY: "true", INGRESS_NGINX_WEIGHT: "ten"}),
            "canary-weight is 'ten', not an integer from 0 to 100",
        ),
        (lambda s: s.ingresses.clear(), f"ingress {NAMESPACE}/{INGRESS} does not exist"),
    ],
    ids=["forbidden", "not-a-canary", "bad-annotation", "missing"],
)
def test_api_refusals_get_a_clear_error(tmp_path, api_server, setup, message):
    setup(api_server)
    traffic = backend(api_server, tmp_path)
    with pytest.raises(TrafficError, match=message):
        traffic.share()  # what the gate does first, as it compares the live weight with its state
        traffic.set_share(10)


def test_a_wrong_token_is_reported_as_missing_permissions(tmp_path, api_server):
    with pytest.raises(TrafficError, match="HTTP 401"):
        backend(api_server, tmp_path, token="stale-token").share()


def test_an_unreachable_api_server_is_named(tmp_path, api_server):
    api_server.url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TrafficError, match="cannot reach the Kubernetes API"):
        backend(api_server, tmp_path).share()


def test_a_missing_kubeconfig_is_a_module_failure_not_a_traceback(tmp_path):
    with pytest.raises(TrafficError, match="cannot load the Kubernetes client configuration from /nonexistent"):
        kubernetes_api("NetworkingV1Api", "/nonexistent/kubeconfig", None)
    result = run_task(
        {
            "perfgate.fleet.canary_gate": {
                "rollout": "k8s-test",
                "state_dir": str(tmp_path / "state"),
                "action": "rollback",
                "traffic": {
                    "ingress_nginx": {
                        "namespace": NAMESPACE,
                        "ingress": INGRESS,
                        "kubeconfig": "/nonexistent/kubeconfig",
                    }
                },
            }
        }
    )
    assert result["failed"]
    assert "cannot load the Kubernetes client configuration" in result["msg"]
    assert "Traceback" not in json.dumps(result)
