"""One run of the canary gate: validate, lock, read the live weight, evaluate, decide, apply and
read back, then record. Everything the Ansible module does, without Ansible, so it can be tested
directly and the module stays a thin boundary."""

from __future__ import annotations

import os
from dataclasses import replace

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_evaluate import evaluate
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import (
    ConfigError,
    parse_metric,
    parse_steps,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_policy import (
    NOOP,
    PROGRESSING,
    ROLLBACK,
    ROLLED_BACK,
    Decision,
    Policy,
    RolloutState,
    decide,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import (
    CloudWatchSource,
    FileSource,
    PrometheusSource,
    SourceError,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_state import StateError, StateStore
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import (
    AlbTraffic,
    FileTraffic,
    HAProxyRuntime,
    IngressNginxCanary,
    TrafficError,
)


class GateError(Exception):
    def __init__(self, message: str, **details):
        super().__init__(message)
        self.details = details


def _boto3_client(service: str, region: str | None):
    try:
        import boto3
    except ImportError:
        raise GateError(
            "the boto3 Python library is required for CloudWatch metrics and the aws_alb backend; "
            "install it on the controller (pip install boto3)"
        ) from None
    return boto3.client(service, region_name=region)


def _kubernetes_networking_api(kubeconfig: str | None, context: str | None):
    try:
        from kubernetes import client, config
    except ImportError:
        raise GateError(
            "the kubernetes Python library is required for the ingress_nginx backend; "
            "install it on the controller (pip install kubernetes)"
        ) from None
    try:
        # A controller running in a pod (no kubeconfig named) uses its service account.
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config()
            api_client = client.ApiClient()
        else:
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    except Exception as error:  # ConfigException, OSError and YAML errors all mean the same here
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise GateError(f"cannot load the Kubernetes client configuration from {where}: {error}") from None
    return client.NetworkingV1Api(api_client)


TRAFFIC_BACKENDS = ("haproxy", "aws_alb", "ingress_nginx", "file")


def build_traffic(traffic: dict | None, region: str | None):
    if not traffic:
        return None
    kinds = [k for k in TRAFFIC_BACKENDS if k in traffic]
    if len(kinds) != 1 or len(traffic) != 1 or not isinstance(traffic[kinds[0]], dict):
        raise GateError(
            f"traffic must hold exactly one of {', '.join(TRAFFIC_BACKENDS)}, with its parameters as a mapping; "
            f"got {sorted(traffic)}"
        )
    kind, options = kinds[0], traffic[kinds[0]]

    def need(*names):
        missing = [n for n in names if not options.get(n)]
        if missing:
            raise GateError(f"traffic.{kind} needs {', '.join(missing)}")

    if kind == "haproxy":
        need("socket", "backend", "stable_servers", "canary_servers")
        return HAProxyRuntime(
            options["socket"],
            options["backend"],
            list(options["stable_servers"]),
            list(options["canary_servers"]),
            float(options.get("timeout", 5)),
        )
    if kind == "file":
        need("path")
        return FileTraffic(options["path"])
    if kind == "ingress_nginx":
        need("namespace", "ingress")
        return IngressNginxCanary(
            _kubernetes_networking_api(options.get("kubeconfig"), options.get("context")),
            options["namespace"],
            options["ingress"],
            float(options.get("timeout", 10)),
        )
    need("listener_arn", "stable_target_group_arn", "canary_target_group_arn")
    return AlbTraffic(
        _boto3_client("elbv2", options.get("region", region)),
        options["listener_arn"],
        options["stable_target_group_arn"],
        options["canary_target_group_arn"],
        options.get("rule_arn"),
    )


def build_sources(metrics, params: dict, now) -> dict:
    sources = {}
    used = {m.source for m in metrics}
    if "prometheus" in used:
        if not params.get("prometheus_url"):
            raise GateError("metrics with source prometheus need prometheus_url")
        sources["prometheus"] = PrometheusSource(
            params["prometheus_url"], params["prometheus_timeout"], params["max_sample_age"], now
        )
    if "file" in used:
        if not params.get("metrics_file"):
            raise GateError("metrics with source file need metrics_file")
        try:
            sources["file"] = FileSource.combined(params["metrics_file"])
        except SourceError as error:
            raise GateError(str(error)) from None
    if "cloudwatch" in used:
        sources["cloudwatch"] = CloudWatchSource(_boto3_client("cloudwatch", params.get("aws_region")), now)
    return sources


def run_gate(params: dict, check_mode: bool, now, evaluation_id: str, at: str) -> dict:
    try:
        steps = parse_steps(params["steps"])
        metrics = [parse_metric(m, params["groups"]) for m in params["metrics"]]
        for name in ("advance_after", "rollback_after", "max_nodata"):
            if params[name] < 1:
                raise ConfigError(f"{name} must be at least 1")
    except ConfigError as error:
        raise GateError(f"canary_gate: {error}") from None
    if params["action"] == "evaluate" and not metrics:
        raise GateError("canary_gate: action evaluate needs at least one metric")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise GateError(f"canary_gate: metric names must be unique, got {names}")
    policy = Policy(steps, params["advance_after"], params["rollback_after"], params["max_nodata"])
    traffic = build_traffic(params.get("traffic"), params.get("aws_region"))
    sources = build_sources(metrics, params, now) if params["action"] == "evaluate" else {}

    try:
        store = StateStore(params["state_dir"], params["rollout"])
        with store:
            if not check_mode:
                store.lock(params["lock_timeout"])
            state = store.load() or RolloutState(rollout=params["rollout"])
            return _run_locked(params, check_mode, store, state, policy, metrics, sources, traffic, evaluation_id, at)
    except StateError as error:
        raise GateError(f"canary_gate: {error}") from None


def _run_locked(params, check_mode, store, state, policy, metrics, sources, traffic, evaluation_id, at) -> dict:
    reasons_extra = []
    try:
        live = traffic.share() if traffic else float(state.weight)
    except TrafficError as error:
        raise GateError(f"canary_gate: {error}; the rollout was not moved", rollout_status=state.status) from None
    if traffic and abs(live - state.weight) > 0.5:
        reasons_extra.append(
            f"the load balancer had {live:g}% for the canary while the rollout expects "
            f"{state.weight}%; the expected weight is applied again"
        )

    verdicts = []
    action = params["action"]
    if action == "status":
        decision = Decision(
            NOOP, state, state.weight, state.weight, (f"rollout {state.rollout} is {state.status} at {state.weight}%",)
        )
    elif action == "rollback":
        if state.status == ROLLED_BACK and live == 0:
            decision = Decision(NOOP, state, 0, 0, ("already rolled back",))
        else:
            why = ["manual rollback requested"]
            new = replace(
                state,
                status=ROLLED_BACK,
                weight=0,
                transitions=(
                    *state.transitions,
                    {
                        "at": at,
                        "decision": ROLLBACK,
                        "from_step": state.step_index,
                        "to_step": state.step_index,
                        "weight": 0,
                        "reasons": why,
                    },
                ),
            )
            decision = Decision(ROLLBACK, new, state.weight, 0, tuple(why))
    else:
        needs_judging = state.status == PROGRESSING and state.step_index >= 0
        if needs_judging:
            verdicts = [v.as_dict() for v in evaluate(metrics, sources, state.step_index, state.weight / 100.0)]
        decision = decide(state, verdicts, policy, at, reset=params["reset"])

    target = decision.weight_after
    applied = None
    must_apply = (
        traffic is not None and params["apply"] and (target != decision.weight_before or abs(live - target) > 0.5)
    )
    if action == "status":
        must_apply = False
    if must_apply and not check_mode:
        try:
            applied = traffic.set_share(target)
        except TrafficError as error:
            store.append_decision(
                {
                    "evaluation_id": evaluation_id,
                    "at": at,
                    "rollout": state.rollout,
                    "decision": decision.decision,
                    "apply_error": str(error),
                    "weight_target": target,
                    "verdicts": verdicts,
                }
            )
            raise GateError(
                f"canary_gate: decided {decision.decision} to {target}% but could not apply it: {error}. "
                "The rollout state was not changed",
                decision=decision.decision,
                verdicts=verdicts,
            ) from None

    reasons = list(decision.reasons) + reasons_extra
    if applied:
        weight_after = float(applied["share"])  # what the load balancer reported back
    elif traffic is not None and not (must_apply and check_mode):
        weight_after = live  # nothing was (or would be) sent: the load balancer keeps its weight
    else:
        weight_after = float(target)  # no load balancer, or check mode: the weight decided
    result = {
        "changed": decision.decision not in (NOOP, "hold") or must_apply,
        "decision": decision.decision,
        "status": decision.state.status,
        "weight_before": live,
        "weight_after": weight_after,
        "step_index": decision.state.step_index,
        "verdicts": verdicts,
        "reasons": reasons,
        "evaluation_id": evaluation_id,
    }
    if applied:
        result["traffic"] = applied
    if not check_mode and action != "status":
        store.save(decision.state)
        store.append_decision(
            {
                "evaluation_id": evaluation_id,
                "at": at,
                "rollout": state.rollout,
                **{k: v for k, v in result.items() if k != "changed"},
            }
        )
    return result
