"""One run of the canary gate: validate, lock, read the live weight, evaluate, decide, apply and
read back, then record. Everything the Ansible module does, without Ansible, so it can be tested
directly and the module stays a thin boundary. What the rollout does is decided by the pure
policy (canary_policy); this layer only moves numbers between it and the outside."""

from __future__ import annotations

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
    prometheus_access,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_state import StateError, StateStore
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import (
    TrafficError,
    boto3_client,
    build_traffic,
)


class GateError(Exception):
    def __init__(self, message: str, **details):
        super().__init__(message)
        self.details = details


def build_sources(params: GateParams, metrics: list[MetricSpec], now) -> dict:
    sources = {}
    used = {m.source for m in metrics}
    try:
        if "prometheus" in used:
            if not params.prometheus_url:
                raise GateError("canary_gate: metrics with source prometheus need prometheus_url")
            sources["prometheus"] = PrometheusSource(
                params.prometheus_url,
                params.prometheus_timeout,
                params.max_sample_age,
                now,
                prometheus_access(params.prometheus_auth),
            )
        if "file" in used:
            if not params.metrics_file:
                raise GateError("canary_gate: metrics with source file need metrics_file")
            sources["file"] = FileSource.combined(params.metrics_file)
    except SourceError as error:
        raise GateError(f"canary_gate: {error}") from None
    if "cloudwatch" in used:
        try:
            sources["cloudwatch"] = CloudWatchSource(boto3_client("cloudwatch", params.aws_region), now)
        except TrafficError as error:
            raise GateError(f"canary_gate: {error}") from None
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
    prometheus_auth: dict | None = None
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
            prometheus_auth=params.get("prometheus_auth"),
            prometheus_timeout=params.get("prometheus_timeout", 10.0),
            max_sample_age=params.get("max_sample_age", 120.0),
            metrics_file=params.get("metrics_file"),
            aws_region=params.get("aws_region"),
            lock_timeout=params.get("lock_timeout", 10.0),
        )


POLICY_DEFAULTS = {"advance_after": 1, "rollback_after": 2, "max_nodata": 3}


def run_gate(params: dict, check_mode: bool, now, evaluation_id: str, at: str) -> dict:
    gate = GateParams.parse(params)
    try:
        traffic = build_traffic(gate.traffic, gate.aws_region)
    except TrafficError as error:
        raise GateError(f"canary_gate: {error}") from None
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
            f"{getattr(traffic, 'holder', 'the load balancer')} had {live:g}% for the canary while the rollout expects "
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
