"""ClusterMonitoring: kube-prometheus-stack (pinned), a ServiceMonitor for the agents and the
recording rules the gate queries (the same names as roles/prometheus on VMs)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.kubernetes.workloads import APP

CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
WINDOW = "1m"
LATENCY_BUCKETS = f"sum by (le, group) (rate(perfgate_request_duration_seconds_bucket[{WINDOW}]))"
# Same record names as roles/prometheus (VMs), so dashboards and the gate's queries carry over.
RECORDING_RULES = [
    {"record": "perfgate:request_duration_seconds:p50", "expr": f"histogram_quantile(0.5, {LATENCY_BUCKETS})"},
    {"record": "perfgate:request_duration_seconds:p99", "expr": f"histogram_quantile(0.99, {LATENCY_BUCKETS})"},
    {
        "record": "perfgate:request_error_ratio",
        "expr": f"sum by (group) (rate(perfgate_request_errors_total[{WINDOW}]))"
        f" / sum by (group) (rate(perfgate_requests_total[{WINDOW}]))",
    },
]


@dataclass
class ClusterMonitoringArgs:
    app_namespace: str
    chart_version: str
    labels: dict[str, str]
    namespace: str = "monitoring"


class ClusterMonitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:kubernetes:ClusterMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": args.namespace, "labels": args.labels}, opts=child
        )
        release = k8s.helm.v3.Release(
            f"{name}-kube-prometheus-stack",
            name="kube-prometheus-stack",
            chart="kube-prometheus-stack",
            version=args.chart_version,  # pinned: a chart upgrade is a reviewed change
            namespace=args.namespace,
            repository_opts={"repo": CHART_REPOSITORY},
            values={
                # Pick up ServiceMonitors and rules from every namespace, not only the release's.
                "prometheus": {
                    "prometheusSpec": {
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                        "ruleSelectorNilUsesHelmValues": False,
                        "scrapeInterval": "5s",
                    }
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
        after_release = pulumi.ResourceOptions(parent=self, depends_on=[release])
        metadata = {"namespace": args.app_namespace, "labels": {**args.labels, "app.kubernetes.io/name": APP}}
        k8s.apiextensions.CustomResource(
            f"{name}-agents",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={**metadata, "name": APP},
            spec={
                # A custom resource: sent as written, so camelCase (match_labels would be pruned,
                # leaving an empty selector that matches every Service).
                "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
                "endpoints": [
                    {
                        "port": "http",
                        "path": "/metrics",
                        "interval": "5s",
                        # The gate's queries select by group, as on VMs.
                        "relabelings": [
                            {"sourceLabels": ["__meta_kubernetes_pod_label_perfgate_group"], "targetLabel": "group"}
                        ],
                    }
                ],
            },
            opts=after_release,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={**metadata, "name": f"{APP}-gate"},
            spec={"groups": [{"name": "perfgate-gate", "interval": "5s", "rules": RECORDING_RULES}]},
            opts=after_release,
        )
        self.register_outputs({"namespace": args.namespace})
