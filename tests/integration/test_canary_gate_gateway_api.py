"""canary_gate's gateway_api backend: an HTTPRoute's backendRef weights set through the real
kubernetes client (CustomObjectsApi) and read back. The API server is tests/kube_api_standin.py
(see there why), serving the route at gateway.networking.k8s.io/v1 as a cluster with the Gateway
API CRDs does."""

from __future__ import annotations

import json

import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import (
    GatewayApiRoute,
    TrafficError,
    kubernetes_api,
)
from ansible_run import run_task
from kube_api_standin import KubeApiStandIn
from pulumi_program import run_program
from servers import free_port

NAMESPACE, ROUTE = "perfgate", "perfgate-bench"
STABLE, CANARY = "perfgate-bench-stable", "perfgate-bench-canary"


def weighted(stable_weight=100, canary_weight=0) -> list[dict]:
    return [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [
                {"name": STABLE, "port": 80, "weight": stable_weight},
                {"name": CANARY, "port": 80, "weight": canary_weight},
            ],
        }
    ]


@pytest.fixture
def api_server():
    with KubeApiStandIn() as server:
        server.add_route(NAMESPACE, ROUTE, weighted())
        yield server


def backend(server: KubeApiStandIn, tmp_path, token: str | None = None, route: str = ROUTE) -> GatewayApiRoute:
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", token)
    api = kubernetes_api("CustomObjectsApi", str(kubeconfig), None)
    return GatewayApiRoute(api, NAMESPACE, route, STABLE, CANARY, timeout=5)


def weights(server: KubeApiStandIn, rule: int = 0, route: str = ROUTE) -> list:
    return [ref.get("weight") for ref in server.backend_refs(NAMESPACE, route, rule)]


def test_the_k8s_stack_exports_the_traffic_option_the_gate_takes():
    outputs = run_program("k8s").outputs
    assert outputs["gate_traffic"] == {
        "gateway_api": {"namespace": NAMESPACE, "route": ROUTE, "stable_service": STABLE, "canary_service": CANARY}
    }


def test_the_module_moves_the_weights_step_by_step_and_rolls_back(tmp_path, api_server, healthy_canary_counts):
    task = {
        "perfgate.fleet.canary_gate": {
            "rollout": "gateway-test",
            "state_dir": str(tmp_path / "state"),
            **healthy_canary_counts,
            "traffic": {
                "gateway_api": {
                    **run_program("k8s").outputs["gate_traffic"]["gateway_api"],
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
        assert weights(api_server) == [100 - expected, expected]
    patches = [content_type for method, _, content_type in api_server.requests if method == "PATCH"]
    assert patches == ["application/json-patch+json"] * 2
    rollback = run_task({"perfgate.fleet.canary_gate": {**task["perfgate.fleet.canary_gate"], "action": "rollback"}})
    assert rollback["weight_after"] == 0
    assert weights(api_server) == [100, 0]


def test_the_share_counts_an_unset_weight_as_one_and_every_matching_rule_is_set(tmp_path, api_server):
    rules = weighted()
    for ref in rules[0]["backendRefs"]:
        del ref["weight"]  # the Gateway API's default: 1 each, so an even split
    other = {"matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}], "backendRefs": [{"name": "admin"}]}
    api_server.add_route(NAMESPACE, "split", [rules[0], other, weighted(50, 50)[0]])
    traffic = backend(api_server, tmp_path, route="split")
    assert traffic.share() == 50.0
    assert traffic.set_share(10) == {"weights": {"stable": 90, "canary": 10}, "share": 10.0}
    assert weights(api_server, 0, "split") == [90, 10] and weights(api_server, 2, "split") == [90, 10]
    assert api_server.backend_refs(NAMESPACE, "split", 1) == [{"name": "admin"}]  # not the gate's rule


def test_a_weight_moved_by_someone_else_meanwhile_is_not_overwritten(tmp_path, api_server):
    traffic = backend(api_server, tmp_path)

    def someone_else_sets_five(server):
        server.after_read = None
        server.backend_refs(NAMESPACE, ROUTE)[1]["weight"] = 5

    api_server.after_read = someone_else_sets_five
    with pytest.raises(TrafficError, match="someone else edited the HTTPRoute"):
        traffic.set_share(10)
    assert weights(api_server) == [100, 5]


def test_reordered_backend_refs_are_not_overwritten(tmp_path, api_server):
    traffic = backend(api_server, tmp_path)

    def someone_swaps_the_refs(server):
        server.after_read = None
        server.backend_refs(NAMESPACE, ROUTE).reverse()

    api_server.after_read = someone_swaps_the_refs
    with pytest.raises(TrafficError, match="someone else edited the HTTPRoute"):
        traffic.set_share(10)
    assert [ref["name"] for ref in api_server.backend_refs(NAMESPACE, ROUTE)] == [CANARY, STABLE]
    assert weights(api_server) == [0, 100]


def test_a_patch_the_api_accepts_but_does_not_apply_fails_the_read_back(tmp_path, api_server):
    api_server.drop_patches = True
    with pytest.raises(TrafficError, match="read-back differs"):
        backend(api_server, tmp_path).set_share(10)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: setattr(s, "refuse_patches", True), "need get and patch on httproutes"),
        (lambda s: s.add_route(NAMESPACE, ROUTE, [{"backendRefs": [{"name": "other"}]}]), "has no rule sending to"),
        (
            lambda s: s.add_route(
                NAMESPACE, ROUTE, [{"backendRefs": [{"name": STABLE}, {"name": CANARY}, {"name": "x"}]}]
            ),
            r"also sends to \['x'\]",
        ),
        (lambda s: s.add_route(NAMESPACE, ROUTE, weighted(0, 0)), "both weights are 0"),
        (lambda s: s.add_route(NAMESPACE, ROUTE, weighted(100, "ten")), "weight of perfgate-bench-canary is 'ten'"),
        (lambda s: s.routes.clear(), f"HTTPRoute {NAMESPACE}/{ROUTE} does not exist"),
    ],
    ids=["forbidden", "no-rule", "third-backend", "all-zero", "bad-weight", "missing"],
)
def test_api_refusals_and_routes_the_gate_cannot_split_get_a_clear_error(tmp_path, api_server, setup, message):
    setup(api_server)
    traffic = backend(api_server, tmp_path)
    with pytest.raises(TrafficError, match=message):
        traffic.share()
        traffic.set_share(10)


def test_a_wrong_token_and_an_unreachable_server_are_named(tmp_path, api_server):
    with pytest.raises(TrafficError, match="HTTP 401"):
        backend(api_server, tmp_path, token="stale-token").share()
    api_server.url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TrafficError, match="cannot reach the Kubernetes API"):
        backend(api_server, tmp_path).share()


def test_a_missing_kubeconfig_is_a_module_failure_not_a_traceback(tmp_path):
    result = run_task(
        {
            "perfgate.fleet.canary_gate": {
                "rollout": "gateway-test",
                "state_dir": str(tmp_path / "state"),
                "action": "rollback",
                "traffic": {
                    "gateway_api": {
                        "namespace": NAMESPACE,
                        "route": ROUTE,
                        "stable_service": STABLE,
                        "canary_service": CANARY,
                        "kubeconfig": "/nonexistent/kubeconfig",
                    }
                },
            }
        }
    )
    assert result["failed"]
    assert "cannot load the Kubernetes client configuration" in result["msg"]
    assert "Traceback" not in json.dumps(result)
