"""The Kubernetes variant of a stack (platform: kubernetes), on the cluster of the ambient kubeconfig.
Exports `gate_traffic`, the canary_gate `traffic` option that moves this stack's weights."""

from __future__ import annotations

import pulumi

from infra.config import StackConfig
from infra.kubernetes.monitoring import ClusterMonitoring, ClusterMonitoringArgs
from infra.kubernetes.traffic_router import CanaryRouter, CanaryRouterArgs
from infra.kubernetes.workloads import AgentWorkloads, AgentWorkloadsArgs


def label_safe(tags: dict[str, str]) -> dict[str, str]:
    """The stack's tags as Kubernetes labels (perfgate/ prefix; values as given)."""
    return {f"perfgate/{key}": value for key, value in tags.items()}


def declare(config: StackConfig) -> None:
    settings = config.kubernetes
    labels = label_safe(dict(config.tags))
    workloads = AgentWorkloads(
        f"perfgate-{config.env}",
        AgentWorkloadsArgs(
            namespace=settings.namespace,
            images={"stable": settings.image, "canary": settings.canary_image or settings.image},
            replicas={"stable": settings.stable_replicas, "canary": settings.canary_replicas},
            max_replicas=settings.max_replicas,
            router_namespace=settings.router_pods_namespace,
            labels=labels,
        ),
    )
    router = CanaryRouter(
        f"perfgate-{config.env}-router",
        CanaryRouterArgs(
            router=settings.traffic_router,
            namespace=settings.namespace,
            host=settings.host,
            canary_weight=config.weights["canary"],
            gate_owns_weights=config.gate_owns_weights,
            gateway_class=settings.gateway_class,
            labels=labels,
        ),
        opts=pulumi.ResourceOptions(depends_on=[workloads]),
    )
    ClusterMonitoring(
        f"perfgate-{config.env}-monitoring",
        ClusterMonitoringArgs(
            app_namespace=settings.namespace, chart_version=settings.prometheus_stack_version, labels=labels
        ),
        opts=pulumi.ResourceOptions(depends_on=[workloads]),
    )
    pulumi.export("env", config.env)
    pulumi.export("namespace", settings.namespace)
    pulumi.export("gate_traffic", router.gate_traffic)
