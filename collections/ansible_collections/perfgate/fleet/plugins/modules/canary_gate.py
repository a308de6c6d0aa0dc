#!/usr/bin/python
"""Ansible module: judge a canary against its baseline and advance, hold or revert its weight."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: canary_gate
short_description: Judge a canary against its baseline and advance, hold or roll back its traffic weight
version_added: "0.1.0"
description:
  - Runs one evaluation of a canary rollout. Each metric is fetched for the canary and the
    baseline and judged (pass, fail, nodata or error) with the numbers behind the verdict; the
    rollout's state machine then advances to the next step, holds, rolls back, or promotes after
    the last step.
  - Latency uses a one-sided Mann-Whitney U test against the baseline scaled by O(metrics[].max_increase),
    a Hodges-Lehmann shift estimate with its confidence interval, and exact tail tests at the
    p95/p99 quantiles, which catch sparse regressions that leave the median alone.
  - Error ratios use a two-proportion test plus a one-sided Wilson bound against an absolute ceiling.
    Gauges use absolute bounds; burn rates use the SRE workbook's multiwindow rule, scaled by the
    canary's traffic share.
  - No data (too few samples, empty, NaN, stale, an unreachable source) is never a pass and never
    advances; O(max_nodata) evaluations in a row without data roll back.
  - The weight is applied to HAProxy (runtime API), an AWS ALB listener or rule, or a JSON file,
    then read back and verified.
  - State lives in one JSON file per rollout in O(state_dir), written atomically under an
    exclusive lock; every evaluation is appended to C(<rollout>.decisions.jsonl) beside it.
  - Runs on the controller; use C(delegate_to=localhost) and C(run_once=true) on the task.
options:
  rollout:
    description: Rollout id; letters, digits, '.', '_' and '-'.
    type: str
    required: true
  state_dir:
    description: Directory for the rollout's state file, lock and decision log.
    type: path
    required: true
  steps:
    description: Canary weights in percent, strictly increasing, one per stage.
    type: list
    elements: int
    default: [10, 25, 50, 100]
  action:
    description:
      - C(evaluate) judges the metrics and moves the rollout.
      - C(rollback) reverts at once (weight 0, status rolled_back) without judging, for manual reverts.
      - C(status) reports the state and the live weight and changes nothing.
    type: str
    choices: [evaluate, rollback, status]
    default: evaluate
  metrics:
    description:
      - Metrics to judge. Each has C(name), C(source) (prometheus, cloudwatch or file), C(kind)
        (latency, ratio, gauge or burn_rate), and either C(canary) and C(baseline) queries or one
        C(query) template containing C({{ group }}) or C(${group}) (pass C({{ group }}) through
        C(!unsafe) so Ansible leaves it alone).
      - A ratio's query is a mapping with C(errors) and C(requests); a burn_rate's query has
        C(long) and C(short) windows, each with C(errors) and C(requests); a gauge needs C(canary) only.
      - Optional per metric, C(min_samples) (default 50), C(critical) (default false),
        C(confidence) (0.98), C(max_increase) (0.10), C(quantiles) ([0.95, 0.99]), C(ceiling),
        C(margin) (0), C(minimum), C(maximum), C(slo) (0.999), C(burn_factor) (14.4).
        C(max_increase), C(confidence), C(ceiling), C(margin), C(minimum), C(maximum) and
        C(burn_factor) may be lists, one value per step, to tighten as the canary grows.
      - C(margin) is an absolute slack added to the relative one, in the metric's unit - for a
        latency, seconds (the canary fails only when worse than baseline x (1 + max_increase) +
        margin); for a ratio, a rate the canary may exceed the baseline's by.
    type: list
    elements: dict
    default: []
  groups:
    description: Names put into query templates for the two groups.
    type: dict
    default: {canary: canary, baseline: baseline}
  prometheus_url:
    description: Base URL of the Prometheus HTTP API, for metrics with source prometheus.
    type: str
  prometheus_timeout:
    description: Seconds to wait for each Prometheus query.
    type: float
    default: 10
  max_sample_age:
    description: Newest sample of a range-vector result older than this many seconds is stale (nodata).
    type: float
    default: 120
  metrics_file:
    description: JSON document of samples and counts, for metrics with source file.
    type: path
  aws_region:
    description: AWS region for CloudWatch metrics and the ALB backend.
    type: str
  advance_after:
    description: Consecutive all-pass evaluations needed to advance a step.
    type: int
    default: 1
  rollback_after:
    description: Consecutive evaluations with a failing metric that roll back (a critical metric needs one).
    type: int
    default: 2
  max_nodata:
    description: Consecutive evaluations with missing data (and no failure) that roll back.
    type: int
    default: 3
  apply:
    description: Apply the decided weight to O(traffic). With false the decision is only recorded.
    type: bool
    default: true
  traffic:
    description:
      - Where the weight goes. A mapping with exactly one key, C(haproxy), C(aws_alb),
        C(ingress_nginx) or C(file), holding that backend's parameters.
      - C(haproxy) takes C(socket) (a UNIX socket path, or host:port, of the runtime API), C(backend),
        C(stable_servers) and C(canary_servers); per-server weights (0-256) are chosen so the
        canary servers together get the target share.
      - C(aws_alb) takes C(listener_arn), optional C(rule_arn), C(stable_target_group_arn) and
        C(canary_target_group_arn).
      - C(ingress_nginx) takes C(namespace) and C(ingress), the canary Ingress of ingress-nginx
        (annotation C(nginx.ingress.kubernetes.io/canary) must be C("true")), and optional
        C(kubeconfig), C(context) and C(timeout). The weight goes into its
        C(nginx.ingress.kubernetes.io/canary-weight) annotation, scaled to C(canary-weight-total)
        when that is set, with a JSON Patch that the API server refuses if someone else changed the
        weight since the gate read it. Without C(kubeconfig) it uses C(KUBECONFIG) or
        C(~/.kube/config), or the pod's service account when it runs inside a cluster.
      - C(file) takes C(path).
    type: dict
  reset:
    description: Start a promoted or rolled-back rollout again from its first step.
    type: bool
    default: false
  lock_timeout:
    description: Seconds to wait for another run on the same rollout before failing.
    type: float
    default: 10
requirements:
  - numpy
  - boto3 (for cloudwatch metrics and the aws_alb backend)
  - kubernetes (for the ingress_nginx backend)
notes:
  - Check mode judges and reports the decision, and writes and changes nothing.
  - Diff mode shows the canary weight before and after.
  - C(promoted) and C(rolled_back) are terminal; later runs return C(noop) until O(reset=true).
author:
  - perfgate
"""

EXAMPLES = r"""
- name: Judge the canary and move its HAProxy weight
  perfgate.fleet.canary_gate:
    rollout: checksum-2026-11-22
    state_dir: /var/lib/perfgate/rollouts
    steps: [10, 25, 50, 100]
    prometheus_url: http://127.0.0.1:9090
    metrics:
      - name: p99_latency
        source: prometheus
        kind: latency
        query: !unsafe 'sum by (le) (increase(perfgate_request_seconds_bucket{group="{{ group }}"}[1m]))'
        max_increase: [0.15, 0.10, 0.10, 0.05]
        min_samples: 200
      - name: errors
        source: prometheus
        kind: ratio
        critical: true
        ceiling: 0.01
        query:
          errors: !unsafe 'sum(increase(perfgate_request_errors_total{group="{{ group }}"}[1m]))'
          requests: !unsafe 'sum(increase(perfgate_requests_total{group="{{ group }}"}[1m]))'
    traffic:
      haproxy:
        socket: /run/haproxy/admin.sock
        backend: checksum
        stable_servers: [stable1, stable2]
        canary_servers: [canary1]
  delegate_to: localhost
  run_once: true
  register: gate

- name: Revert at once
  perfgate.fleet.canary_gate:
    rollout: checksum-2026-11-22
    state_dir: /var/lib/perfgate/rollouts
    action: rollback
    traffic:
      file: {path: /var/lib/perfgate/weight.json}
  delegate_to: localhost

- name: Move the weight of the Kubernetes stack's canary Ingress (see the k8s stack's outputs)
  perfgate.fleet.canary_gate:
    rollout: checksum-k8s-1.3.0
    state_dir: /var/lib/perfgate/rollouts
    prometheus_url: http://127.0.0.1:9090
    groups: {canary: canary, baseline: stable}
    metrics:
      - name: p99_latency
        source: prometheus
        kind: latency
        query: 'sum by (le) (increase(perfgate_request_duration_seconds_bucket{group="${group}"}[1m]))'
    traffic:
      ingress_nginx:
        namespace: perfgate
        ingress: perfgate-bench-canary
        context: prod-cluster
  delegate_to: localhost

- name: Judge a candidate build against the baseline offline
  perfgate.fleet.canary_gate:
    rollout: ci-build-1234
    state_dir: /tmp/gate
    metrics_file: /tmp/bench-results.json
    metrics:
      - {name: latency, source: file, kind: latency, min_samples: 30}
    apply: false
  delegate_to: localhost
"""

RETURN = r"""
decision:
  description: What the rollout did.
  returned: always
  type: str
  sample: advance
  choices: [advance, hold, rollback, promote, noop]
status:
  description: The rollout's state after this run (progressing, promoted or rolled_back).
  returned: always
  type: str
weight_before:
  description: Canary weight in percent before this run, as read from the load balancer when there is one.
  returned: always
  type: float
weight_after:
  description: Canary weight in percent after this run, as read back from the load balancer.
  returned: always
  type: float
step_index:
  description: Index into steps after this run (-1 before the rollout starts).
  returned: always
  type: int
verdicts:
  description: One entry per metric with name, kind, verdict (pass, fail, nodata, error), critical, reason and numbers.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "p99_latency", "verdict": "pass", "numbers": {"canary_n": 812, "shift": 0.0002, "p_worse": 0.97}}]
reasons:
  description: Sentences a person can read, explaining the decision.
  returned: always
  type: list
  elements: str
evaluation_id:
  description: Id of this evaluation, also written to the decision log.
  returned: always
  type: str
traffic:
  description: What the backend reported after applying (weights per server or target group, and the share).
  returned: when a weight was applied
  type: dict
"""

import importlib.util
import time
import uuid
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import numpy  # noqa: F401  (the judge's statistics need it)

    HAS_NUMPY = True
except ImportError:
    HAS_NUMPY = False

try:
    import boto3  # noqa: F401  (CloudWatch metrics and the aws_alb backend)

    HAS_BOTO3 = True
except ImportError:
    HAS_BOTO3 = False

ARGUMENT_SPEC = {
    "rollout": {"type": "str", "required": True},
    "state_dir": {"type": "path", "required": True},
    "steps": {"type": "list", "elements": "int", "default": [10, 25, 50, 100]},
    "action": {"type": "str", "choices": ["evaluate", "rollback", "status"], "default": "evaluate"},
    "metrics": {"type": "list", "elements": "dict", "default": []},
    "groups": {"type": "dict", "default": {"canary": "canary", "baseline": "baseline"}},
    "prometheus_url": {"type": "str"},
    "prometheus_timeout": {"type": "float", "default": 10},
    "max_sample_age": {"type": "float", "default": 120},
    "metrics_file": {"type": "path"},
    "aws_region": {"type": "str"},
    "advance_after": {"type": "int", "default": 1},
    "rollback_after": {"type": "int", "default": 2},
    "max_nodata": {"type": "int", "default": 3},
    "apply": {"type": "bool", "default": True},
    "traffic": {"type": "dict"},
    "reset": {"type": "bool", "default": False},
    "lock_timeout": {"type": "float", "default": 10},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_NUMPY:
        module.fail_json(msg=missing_required_lib("numpy"))
    needs_aws = "aws_alb" in (module.params["traffic"] or {}) or any(
        isinstance(m, dict) and m.get("source") == "cloudwatch" for m in module.params["metrics"]
    )
    if needs_aws and not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"))
    # Imported only when used: loading the kubernetes client costs every other run half a second.
    if "ingress_nginx" in (module.params["traffic"] or {}) and importlib.util.find_spec("kubernetes") is None:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    from ansible_collections.perfgate.fleet.plugins.module_utils.canary_gate_run import GateError, run_gate

    try:
        result = run_gate(
            module.params,
            check_mode=module.check_mode,
            now=time.time,
            evaluation_id=uuid.uuid4().hex,
            at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
    except GateError as error:
        module.fail_json(msg=str(error), **error.details)
    if module._diff:
        result["diff"] = {
            "before": f"canary weight: {result['weight_before']:g}%\n",
            "after": f"canary weight: {result['weight_after']:g}%\n",
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
