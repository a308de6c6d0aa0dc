"""One run of the canary gate: validate, lock, read the live weight, evaluate, decide, apply and
read back, then record. Everything the Ansible module does, without Ansible, so it can be tested
directly and the module stays a thin boundary. What the rollout does is decided by the pure
policy (canary_policy); this layer only moves numbers between it and the outside."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_evaluate import Window, evaluate, preflight
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import (
    ConfigError,
    MetricSpec,
    parse_metric,
    parse_steps,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_policy import (
    HOLD,
    NOOP,
    PROGRESSING,
    TERMINAL,
    Decision,
    Policy,
    RolloutState,
    decide,
    manual_rollback,
    restarted,
    start,
    status,
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


def build_sources(params: GateParams, metrics: list[MetricSpec], now) -> dict:
    sources = {}
    used = {m.source for m in metrics}
    try:
        if "prometheus" in used:
            if not params.prometheus_url:
                raise GateError("canary_gate: metrics with source prometheus need prometheus_url")
            sources["prometheus"] = PrometheusSource(
                params.prometheus_url, params.prometheus_timeout, params.max_sample_age, now
            )
        if "file" in used:
            if not params.metrics_file:
                raise GateError("canary_gate: metrics with source file need metrics_file")
            sources["file"] = FileSource.combined(params.metrics_file)
    except SourceError as error:
        raise GateError(f"canary_gate: {error}") from None
    if "cloudwatch" in used:
        sources["cloudwatch"] = CloudWatchSource(_boto3_client("cloudwatch", params.aws_region), now)
    return sources


ACTIONS = ("evaluate", "rollback", "status")


@dataclass(frozen=True)
class GateParams:
    """The module's parameters, checked once."""

    rollout: str
    state_dir: str
    action: str
    policy: Policy
    metrics: tuple[MetricSpec, ...]
    traffic: dict | None
    apply: bool = True
    reset: bool = False
    prometheus_url: str | None = None
    prometheus_timeout: float = 10.0
    max_sample_age: float = 120.0
    metrics_file: str | None = None
    aws_region: str | None = None
    lock_timeout: float = 10.0

    @classmethod
    def parse(cls, params: dict) -> GateParams:
        try:
            steps = parse_steps(params["steps"])
            groups = params.get("groups") or {"canary": "canary", "baseline": "baseline"}
            metrics = tuple(parse_metric(m, groups) for m in params.get("metrics") or [])
            counts = {name: params.get(name, default) for name, default in POLICY_DEFAULTS.items()}
            for name, value in counts.items():
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
        except ConfigError as error:
            raise GateError(f"canary_gate: {error}") from None
        action = params.get("action", "evaluate")
        if action not in ACTIONS:
            raise GateError(f"canary_gate: action must be one of {', '.join(ACTIONS)}, not {action!r}")
        if action == "evaluate" and not metrics:
            raise GateError("canary_gate: action evaluate needs at least one metric")
        names = [m.name for m in metrics]
        if len(set(names)) != len(names):
            raise GateError(f"canary_gate: metric names must be unique, got {names}")
        return cls(
            rollout=params["rollout"],
            state_dir=params["state_dir"],
            action=action,
            policy=Policy(steps, **counts),
            metrics=metrics,
            traffic=params.get("traffic"),
            apply=params.get("apply", True),
            reset=params.get("reset", False),
            prometheus_url=params.get("prometheus_url"),
            prometheus_timeout=params.get("prometheus_timeout", 10.0),
            max_sample_age=params.get("max_sample_age", 120.0),
            metrics_file=params.get("metrics_file"),
            aws_region=params.get("aws_region"),
            lock_timeout=params.get("lock_timeout", 10.0),
        )


POLICY_DEFAULTS = {"advance_after": 1, "rollback_after": 2, "max_nodata": 3}


def run_gate(params: dict, check_mode: bool, now, evaluation_id: str, at: str) -> dict:
    gate = GateParams.parse(params)
    traffic = build_traffic(gate.traffic, gate.aws_region)
    try:
        store = StateStore(gate.state_dir, gate.rollout)
        with store:
            if not check_mode:
                store.lock(gate.lock_timeout)
            state = store.load() or RolloutState(rollout=gate.rollout)
            return _run_locked(gate, check_mode, store, state, traffic, now, evaluation_id, at)
    except StateError as error:
        raise GateError(f"canary_gate: {error}") from None


def _judge(gate: GateParams, state: RolloutState, now, at: str) -> tuple[Decision, list]:
    """The evaluate action: start a new rollout once its sources answer, or judge one window."""
    if gate.reset and state.status in TERMINAL:
        state = restarted(state)
    if state.status != PROGRESSING:
        return decide(state, [], gate.policy, at), []
    clock = now()
    if state.step_index < 0:
        # Pre-flight: no canary gets traffic that the gate could not judge. File metrics arrive
        # with each evaluation, so only query sources are asked.
        queried = [m for m in gate.metrics if m.source != "file"]
        problems = preflight(queried, build_sources(gate, queried, now), max(int(gate.max_sample_age), 1))
        if problems:
            raise GateError(
                "canary_gate: refusing to start the rollout, no traffic was moved: " + "; ".join(problems),
                rollout_status=state.status,
            )
        return start(state, gate.policy, at, clock), []
    started = state.started_at if state.started_at is not None else clock - 60.0
    window = Window(state.step_index, state.weight / 100.0, clock, started, state.judged_until)
    metrics = list(gate.metrics)
    verdicts, evidence, judged_until = evaluate(metrics, build_sources(gate, metrics, now), window, state.evidence)
    state = replace(state, evidence=evidence, judged_until=judged_until, last_evaluated_at=clock)
    return decide(state, verdicts, gate.policy, at), verdicts


def _apply(traffic, decision: Decision, verdicts: list[dict], store, evaluation_id: str, at: str) -> dict:
    """Set the decided weight and return what the backend read back. A failure is logged and
    leaves the state as it was."""
    try:
        return traffic.set_share(decision.weight_after)
    except TrafficError as error:
        store.append_decision(
            {
                "evaluation_id": evaluation_id,
                "at": at,
                "rollout": decision.state.rollout,
                "decision": decision.decision,
                "apply_error": str(error),
                "weight_target": decision.weight_after,
                "verdicts": verdicts,
            }
        )
        raise GateError(
            f"canary_gate: decided {decision.decision} to {decision.weight_after}% but could not apply it: "
            f"{error}. The rollout state was not changed",
            decision=decision.decision,
            verdicts=verdicts,
        ) from None


def _run_locked(gate: GateParams, check_mode, store, state, traffic, now, evaluation_id, at) -> dict:
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
    if gate.action == "status":
        decision = status(state)
    elif gate.action == "rollback":
        decision = manual_rollback(state, live, at)
    else:
        decision, verdicts = _judge(gate, state, now, at)
    verdicts = [v.as_dict() for v in verdicts]

    target = decision.weight_after
    must_apply = (
        gate.action != "status"
        and traffic is not None
        and gate.apply
        and (target != decision.weight_before or abs(live - target) > 0.5)
    )
    applied = _apply(traffic, decision, verdicts, store, evaluation_id, at) if must_apply and not check_mode else None

    reasons = list(decision.reasons) + reasons_extra
    if applied:
        weight_after = float(applied["share"])  # what the load balancer reported back
    elif traffic is not None and not (must_apply and check_mode):
        weight_after = live  # nothing was (or would be) sent: the load balancer keeps its weight
    else:
        weight_after = float(target)  # no load balancer, or check mode: the weight decided
    result = {
        "changed": decision.decision not in (NOOP, HOLD) or must_apply,
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
    if not check_mode and gate.action != "status":
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
