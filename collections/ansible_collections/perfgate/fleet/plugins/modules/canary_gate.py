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
    baseline over the window since the previous evaluation, added to the evidence the rollout's
    state keeps, and judged (pass, fail, inconclusive, nodata or error) with the numbers behind
    the verdict; the rollout's state machine then advances to the next step, holds, rolls back,
    or promotes after the last step.
  - Latency and error ratios are judged sequentially on everything seen since the rollout
    started, with e-values (anytime-valid tests). A canary no worse than the allowance is rolled
    back by a metric with probability at most 1 - O(metrics[].confidence) over the whole rollout,
    however many evaluations it takes; a regression fails as soon as the evidence reaches that
    bar, and such a fail rolls back at once.
  - Latency is compared on the histogram grid. At a few thresholds (placed once, at the
    baseline's median, p75, p90 and the metric's quantiles, scaled by 1 + max_increase) the share
    of canary requests slower than the threshold is compared with the share of baseline requests
    slower than the threshold divided by 1 + max_increase, interpolated inside a bucket as
    histogram_quantile does. Raw samples are binned onto a 2 % grid. Timeouts (infinite samples,
    the +Inf bucket) are slower than everything and counted in C(canary_timeouts).
  - Error ratios use an exact test of the canary's share of the errors against its share of the
    requests, accumulated over windows, plus a test against an absolute O(metrics[].ceiling).
    C(memory) compares the growth of resident memory (Theil-Sen slope) with the baseline's.
    Gauges use absolute bounds; burn rates use the SRE workbook's multiwindow rule, scaled by the
    canary's traffic share.
  - Inconclusive (the evidence leans towards a regression but is not yet enough, or too few
    requests so far) holds and keeps collecting; it is not no data. No data (no requests in the
    window, an empty or stale series, an unreachable source) is never a pass and never advances;
    O(max_nodata) evaluations in a row without data roll back.
  - The first call is a pre-flight. It moves traffic only when every Prometheus or CloudWatch
    metric's baseline query answers with series; otherwise it fails with the reasons.
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
      - Metrics to judge. Each has O(metrics[].name), O(metrics[].source), O(metrics[].kind),
        and either C(canary) and C(baseline) queries or one O(metrics[].query) template containing
        C({{ group }}) or C(${group}) (pass C({{ group }}) through C(!unsafe) so Ansible leaves it alone).
      - Prometheus queries of latency and ratio metrics must use C(${group}) and C(${since}), the
        seconds since the previous evaluation, as their range (C(increase(...[${since}]))), so that
        consecutive windows abut and no request is counted twice.
      - A ratio's query is a mapping with C(errors) and C(requests); a burn_rate's query has
        C(long) and C(short) windows, each with C(errors) and C(requests); a gauge needs C(canary) only.
      - O(metrics[].max_increase), O(metrics[].confidence), O(metrics[].ceiling), O(metrics[].margin),
        O(metrics[].minimum), O(metrics[].maximum) and O(metrics[].burn_factor) may be lists, one value
        per step, to tighten as the canary grows.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Unique name of the metric, used in verdicts and reports.
        type: str
        required: true
      source:
        description: Where its numbers come from.
        type: str
        choices: [prometheus, cloudwatch, file]
        default: prometheus
      kind:
        description: How it is judged.
        type: str
        choices: [latency, ratio, gauge, burn_rate, memory]
        required: true
      query:
        description: Query template for both groups (a string, or a mapping for ratio and burn_rate).
        type: raw
      canary:
        description: Query for the canary group (instead of O(metrics[].query)).
        type: raw
      baseline:
        description: Query for the baseline group (instead of O(metrics[].query)).
        type: raw
      critical:
        description: A failing critical metric rolls back at once whatever its kind.
        type: bool
        default: false
      min_samples:
        description:
          - Requests per group (readings, for memory) before the metric is judged; fewer is inconclusive.
          - Default 50 (5 readings for memory).
        type: int
      confidence:
        description: 1 - the chance of rolling back a canary within the allowance, over the whole rollout. Default 0.98.
        type: raw
      max_increase:
        description:
          - Latency, memory. The relative slowdown (or growth over the baseline's) that is tolerated.
          - Default 0.10.
        type: raw
      margin:
        description:
          - Absolute slack in the metric's unit. Latency, seconds added to the scaled baseline; ratio, a
            rate the canary may exceed the baseline's by; memory, bytes per minute of growth beyond the
            baseline's (required for memory).
          - Default 0.
        type: raw
      quantiles:
        description:
          - Latency. Tail quantile levels at which extra thresholds are placed and reported.
          - Default C([0.95, 0.99]).
        type: list
        elements: float
      ceiling:
        description: Ratio. Absolute error rate the canary must not surely exceed.
        type: raw
      minimum:
        description: Gauge. Lowest acceptable value.
        type: raw
      maximum:
        description: Gauge. Highest acceptable value.
        type: raw
      slo:
        description: Burn rate. The availability objective whose budget is burnt. Default 0.999.
        type: float
      burn_factor:
        description: Burn rate. Fail when both windows burn faster than this many times the budget. Default 14.4.
        type: raw
  groups:
    description: Names put into query templates for the two groups.
    type: dict
    default: {canary: canary, baseline: baseline}
  prometheus_url:
    description: Base URL of the Prometheus HTTP API, for metrics with source prometheus.
    type: str
  prometheus_auth:
    description:
      - How to reach Prometheus when it is behind authentication or TLS, as real endpoints are.
    type: dict
    suboptions:
      type:
        description:
          - C(basic) sends O(prometheus_auth.username) and O(prometheus_auth.password); C(bearer) sends
            O(prometheus_auth.token); C(sigv4) signs each request with the controller's AWS credentials
            (environment, profile or instance role), as Amazon Managed Prometheus requires.
        type: str
        choices: [none, basic, bearer, sigv4]
        default: none
      username:
        description: Basic auth user.
        type: str
      password:
        description: Basic auth password.
        type: str
      token:
        description: Bearer token.
        type: str
      region:
        description: AWS region for SigV4 (default the AWS configuration's region).
        type: str
      service:
        description: AWS service name for SigV4.
        type: str
        default: aps
      ca_path:
        description: CA bundle (PEM) that Prometheus' certificate must chain to.
        type: path
      client_cert:
        description: Client certificate (PEM) for mutual TLS.
        type: path
      client_key:
        description: Key of O(prometheus_auth.client_cert), when it is not in the same file.
        type: path
      validate_certs:
        description: Check Prometheus' TLS certificate. Turn off only for testing.
        type: bool
        default: true
      headers:
        description: Extra HTTP headers sent with every query (for example a tenant header).
        type: dict
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
    description: Consecutive all-pass evaluations needed to advance a step (inconclusive ones hold and reset it).
    type: int
    default: 1
  rollback_after:
    description:
      - Evaluations with a failing per-window metric (gauge, burn_rate, memory) since the last all-pass
        one that roll back. A critical metric, and any failing latency or ratio metric (whose fail is
        anytime-valid), needs one.
    type: int
    default: 2
  max_nodata:
    description:
      - Consecutive evaluations with missing data (and no failure) that roll back.
      - Inconclusive evaluations (data, but not yet enough evidence) do not count.
    type: int
    default: 3
  apply:
    description: Apply the decided weight to O(traffic). With false the decision is only recorded.
    type: bool
    default: true
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
  - kubernetes (for the ingress_nginx and gateway_api backends)
notes:
  - Windows. The gate fills C(${since}) with the whole seconds since the end of what the metric's
    evidence already holds (the rollout's start, at first), so C(increase(x[${since}])) at time T
    covers (T - since, T] and consecutive windows abut. No request is counted in two windows.
    A window that brings no data (Prometheus down or restarting, a missed scrape) is not skipped;
    the next one starts where the evidence ends and covers it, and the counters' increase over
    the outage is seen then. increase() needs two scrapes inside a window, so keep the
    evaluation interval at least twice the scrape interval. Its extrapolation to the window's
    ends over- or under-counts a window by a fraction of one scrape interval's traffic, which
    averages out under steady traffic. A counter reset (an agent restart) is handled by increase()
    itself. A fixed range such as C([1m]) is refused for latency and ratio metrics, since
    evaluations closer together than the range would count requests twice.
  - With O(metrics[].source=file) each call's O(metrics_file) holds the requests of that window
    only; earlier windows live in the state. A whole rollout can be replayed from a sequence of
    files. A latency entry is a list of seconds (C(Infinity) is a timeout) or a mapping with one
    key C(buckets) holding cumulative counts by upper bound, C(+Inf) included.
  - The guarantee is per metric. With several metrics, a good canary's chance of being rolled back
    by any of them is at most the sum of their 1 - confidence.
  - Check mode judges and reports the decision, and writes and changes nothing.
  - Diff mode shows the canary weight before and after.
  - C(promoted) and C(rolled_back) are terminal; later runs return C(noop) until O(reset=true).
extends_documentation_fragment:
  - perfgate.fleet.traffic
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have.
    support: full
    details: Judges and reports the decision it would take; writes no state and moves no weight.
  diff_mode:
    description: Returns details on what changed, in diff mode.
    support: full
    details: The canary weight before and after.
  platform:
    description: Target OS and families the module runs on.
    support: full
    platforms: posix
author:
  - perfgate maintainers (@perfgate)
"""

EXAMPLES = r"""
- name: Judge the canary and move its HAProxy weight
  perfgate.fleet.canary_gate:
    rollout: checksum-2026-11-22
    state_dir: /var/lib/perfgate/rollouts
    steps: [10, 25, 50, 100]
    prometheus_url: http://127.0.0.1:9090
    metrics:
      - name: latency
        source: prometheus
        kind: latency
        query: !unsafe 'sum by (le) (increase(perfgate_request_duration_seconds_bucket{group="{{ group }}"}[${since}]))'
        max_increase: [0.15, 0.10, 0.10, 0.05]
        min_samples: 200
      - name: errors
        source: prometheus
        kind: ratio
        critical: true
        ceiling: 0.01
        query:
          errors: !unsafe 'sum(increase(perfgate_request_errors_total{group="{{ group }}"}[${since}]))'
          requests: !unsafe 'sum(increase(perfgate_requests_total{group="{{ group }}"}[${since}]))'
      - name: memory
        source: prometheus
        kind: memory
        margin: 1048576  # 1 MiB per minute more than the baseline grows
        query: !unsafe 'avg(process_resident_memory_bytes{job="perfgate-agents",group="{{ group }}"})'
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

- name: Move the weights of the Kubernetes stack's HTTPRoute (its gate_traffic output)
  perfgate.fleet.canary_gate:
    rollout: checksum-k8s-1.3.0
    state_dir: /var/lib/perfgate/rollouts
    prometheus_url: http://127.0.0.1:9090
    groups: {canary: canary, baseline: stable}
    metrics:
      - name: latency
        source: prometheus
        kind: latency
        query: 'sum by (le) (increase(perfgate_request_duration_seconds_bucket{group="${group}"}[${since}]))'
    traffic:
      gateway_api:
        namespace: perfgate
        route: perfgate-bench
        stable_service: perfgate-bench-stable
        canary_service: perfgate-bench-canary
        context: prod-cluster
  delegate_to: localhost

- name: Move a feature flag's rollout in Unleash, judging flag-on against flag-off requests
  perfgate.fleet.canary_gate:
    rollout: checksum-v2-flag
    state_dir: /var/lib/perfgate/rollouts
    prometheus_url: http://127.0.0.1:9090
    groups: {canary: "on", baseline: "off"}
    metrics:
      - name: latency
        source: prometheus
        kind: latency
        query: 'sum by (le) (increase(perfgate_request_duration_seconds_bucket{variant="${group}"}[${since}]))'
    traffic:
      unleash:
        url: http://unleash.internal:4242
        token: "{{ unleash_admin_token }}"
        feature: checksum-v2
        environment: production
  delegate_to: localhost

- name: Replay one window of a recorded rollout offline (the file holds only this window's requests)
  perfgate.fleet.canary_gate:
    rollout: replay-1234
    state_dir: /tmp/gate
    metrics_file: /tmp/window-0007.json
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
  description:
    - One entry per metric with name, kind, verdict (pass, fail, inconclusive, nodata, error), critical,
      sequential (true when a fail is anytime-valid), reason and numbers.
    - A latency's numbers include C(canary_n), C(canary_timeouts), medians and quantiles, each
      threshold's shares and C(e_value) against C(fail_at_e_value).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "latency", "verdict": "pass", "numbers": {"canary_n": 812, "canary_timeouts": 0, "e_value": 0.21}}]
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

import importlib
import time
import uuid
from datetime import UTC, datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import KUBERNETES_BACKENDS, TRAFFIC_OPTION


def _importable(name: str) -> bool:
    """Imported only when a run needs it: each costs the runs that do not (numpy the judge's
    statistics; boto3 CloudWatch, the aws_alb backend and SigV4; kubernetes ingress-nginx)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


ARGUMENT_SPEC = {
    "rollout": {"type": "str", "required": True},
    "state_dir": {"type": "path", "required": True},
    "steps": {"type": "list", "elements": "int", "default": [10, 25, 50, 100]},
    "action": {"type": "str", "choices": ["evaluate", "rollback", "status"], "default": "evaluate"},
    "metrics": {
        "type": "list",
        "elements": "dict",
        "default": [],
        # Defaults of the thresholds live in the judge (some depend on the kind), so none are set here.
        "options": {
            "name": {"type": "str", "required": True},
            "source": {"type": "str", "choices": ["prometheus", "cloudwatch", "file"], "default": "prometheus"},
            "kind": {"type": "str", "choices": ["latency", "ratio", "gauge", "burn_rate", "memory"], "required": True},
            "query": {"type": "raw"},
            "canary": {"type": "raw"},
            "baseline": {"type": "raw"},
            "critical": {"type": "bool", "default": False},
            "min_samples": {"type": "int"},
            "confidence": {"type": "raw"},
            "max_increase": {"type": "raw"},
            "margin": {"type": "raw"},
            "quantiles": {"type": "list", "elements": "float"},
            "ceiling": {"type": "raw"},
            "minimum": {"type": "raw"},
            "maximum": {"type": "raw"},
            "slo": {"type": "float"},
            "burn_factor": {"type": "raw"},
        },
    },
    "groups": {"type": "dict", "default": {"canary": "canary", "baseline": "baseline"}},
    "prometheus_url": {"type": "str"},
    "prometheus_auth": {
        "type": "dict",
        "options": {
            "type": {"type": "str", "choices": ["none", "basic", "bearer", "sigv4"], "default": "none"},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "token": {"type": "str", "no_log": True},
            "region": {"type": "str"},
            "service": {"type": "str", "default": "aps"},
            "ca_path": {"type": "path"},
            "client_cert": {"type": "path"},
            "client_key": {"type": "path", "no_log": False},
            "validate_certs": {"type": "bool", "default": True},
            "headers": {"type": "dict"},
        },
    },
    "prometheus_timeout": {"type": "float", "default": 10},
    "max_sample_age": {"type": "float", "default": 120},
    "metrics_file": {"type": "path"},
    "aws_region": {"type": "str"},
    "advance_after": {"type": "int", "default": 1},
    "rollback_after": {"type": "int", "default": 2},
    "max_nodata": {"type": "int", "default": 3},
    "apply": {"type": "bool", "default": True},
    "traffic": TRAFFIC_OPTION,
    "reset": {"type": "bool", "default": False},
    "lock_timeout": {"type": "float", "default": 10},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["action"] == "evaluate" and not _importable("numpy"):
        module.fail_json(msg=missing_required_lib("numpy"))
    needs_aws = (
        (module.params["traffic"] or {}).get("aws_alb") is not None
        or any(isinstance(m, dict) and m.get("source") == "cloudwatch" for m in module.params["metrics"])
        or (module.params["prometheus_auth"] or {}).get("type") == "sigv4"
    )
    if needs_aws and not _importable("boto3"):
        module.fail_json(msg=missing_required_lib("boto3"))
    # Imported only when used: loading the kubernetes client costs every other run half a second.
    traffic = module.params["traffic"] or {}
    if any(traffic.get(k) is not None for k in KUBERNETES_BACKENDS) and importlib.util.find_spec("kubernetes") is None:
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
