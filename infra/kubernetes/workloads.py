"""AgentWorkloads: stable and canary Deployments of the agent, their Services, autoscaling,
disruption budgets and network policies. What splits traffic between the two Services is
infra/kubernetes/traffic_router.py.

The HPA owns each Deployment's replica count, so the Deployment leaves spec.replicas unset: a
value there would be re-applied by every `pulumi up` and conflict with the HPA's writes under
server-side apply. The HPA's minReplicas is the configured count.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

GROUPS = ("stable", "canary")
APP = "perfgate-bench"
PORT = 8080
SERVICE_PORT = 80


@dataclass
class AgentWorkloadsArgs:
    namespace: str
    images: dict[str, str]  # group -> image
    replicas: dict[str, int]
    max_replicas: int
    router_namespace: str  # where the pods that route traffic to the agents run
    labels: dict[str, str]  # the stack's tags as labels


def group_labels(group: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "perfgate/group": group}


def service_name(group: str) -> str:
    return f"{APP}-{group}"


class AgentWorkloads(pulumi.ComponentResource):
    def __init__(self, name: str, args: AgentWorkloadsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:kubernetes:AgentWorkloads", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def meta(resource: str, group: str | None = None, **extra) -> dict:
            labels = {**args.labels, **(group_labels(group) if group else {"app.kubernetes.io/name": APP})}
            return {"name": resource, "namespace": args.namespace, "labels": labels, **extra}

        self.namespace = k8s.core.v1.Namespace(
            name, metadata={"name": args.namespace, "labels": {**args.labels}}, opts=child
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        self.services: dict[str, k8s.core.v1.Service] = {}
        for group in GROUPS:
            resource = service_name(group)
            k8s.apps.v1.Deployment(
                f"{name}-{group}",
                metadata=meta(resource, group),
                spec={
                    "selector": {"match_labels": group_labels(group)},
                    "template": {
                        "metadata": {"labels": {**args.labels, **group_labels(group)}},
                        "spec": {
                            "automount_service_account_token": False,
                            "security_context": {
                                "run_as_non_root": True,
                                "run_as_user": 65532,
                                "seccomp_profile": {"type": "RuntimeDefault"},
                            },
                            "containers": [
                                {
                                    "name": "agent",
                                    "image": args.images[group],
                                    "args": ["serve", "--listen", "0.0.0.0", "--port", str(PORT)],
                                    "ports": [{"name": "http", "container_port": PORT}],
                                    "readiness_probe": {"http_get": {"path": "/healthz", "port": "http"}},
                                    "liveness_probe": {
                                        "http_get": {"path": "/healthz", "port": "http"},
                                        "initial_delay_seconds": 10,
                                    },
                                    # Guaranteed QoS: whole CPUs let the static CPU manager pin
                                    # the agent, as CPUAffinity does on VMs.
                                    "resources": {
                                        "requests": {"cpu": "1", "memory": "512Mi"},
                                        "limits": {"cpu": "1", "memory": "512Mi"},
                                    },
                                    "security_context": {
                                        "allow_privilege_escalation": False,
                                        "read_only_root_filesystem": True,
                                        "capabilities": {"drop": ["ALL"]},
                                    },
                                    "volume_mounts": [{"name": "numba-cache", "mount_path": "/tmp"}],
                                }
                            ],
                            "volumes": [{"name": "numba-cache", "empty_dir": {}}],
                        },
                    },
                },
                opts=in_namespace,
            )
            self.services[group] = k8s.core.v1.Service(
                f"{name}-{group}",
                metadata=meta(resource, group),
                spec={
                    "selector": group_labels(group),
                    "ports": [{"name": "http", "port": SERVICE_PORT, "target_port": "http"}],
                },
                opts=in_namespace,
            )
            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-{group}",
                metadata=meta(resource, group),
                spec={
                    "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": resource},
                    "min_replicas": args.replicas[group],
                    "max_replicas": max(args.max_replicas, args.replicas[group]),
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "average_utilization": 70}},
                        }
                    ],
                },
                opts=in_namespace,
            )
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-{group}",
                metadata=meta(resource, group),
                spec={"max_unavailable": 1, "selector": {"match_labels": group_labels(group)}},
                opts=in_namespace,
            )

        # Default deny for every pod in the namespace, then only what the agent needs: HTTP from
        # the traffic router's pods and scrapes from Prometheus.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta("default-deny"),
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=in_namespace,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-http",
            metadata=meta("allow-ingress-and-scrapes"),
            spec={
                "pod_selector": {"match_labels": {"app.kubernetes.io/name": APP}},
                "policy_types": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespace_selector": {
                                    "match_labels": {"kubernetes.io/metadata.name": args.router_namespace}
                                }
                            },
                            {"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "monitoring"}}},
                        ],
                        "ports": [{"port": PORT, "protocol": "TCP"}],
                    }
                ],
            },
            opts=in_namespace,
        )
        self.register_outputs({"namespace": args.namespace})
