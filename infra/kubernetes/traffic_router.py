"""CanaryRouter: what splits the agent's traffic between the stable and canary Services.

- gateway_api: a Gateway and an HTTPRoute (gateway.networking.k8s.io/v1) whose one rule sends to
  both Services by weight; the gate's gateway_api backend sets those two weights.
- ingress_nginx: ingress-nginx's stable Ingress and canary Ingress, whose canary-weight annotation
  is the share; the gate's ingress_nginx backend sets it. ingress-nginx was retired in March
  2026, so this is for clusters that still run it.

With weights_owner "gate" Pulumi writes the weights on create and then ignores them, so a `pulumi
up` during a rollout does not undo the gate. The ignored paths are written out index by index:
pulumi-aws #5771 shows a wildcard ("[*]") path silently ignoring nothing.

Gateway and HTTPRoute are custom resources, which the SDK sends exactly as written, so their
bodies are in the API's camelCase.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.kubernetes.workloads import APP, GROUPS, SERVICE_PORT, group_labels, service_name

GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"
ROUTE_NAME = APP
# HTTPRoute weight paths the gate changes; backendRefs follow GROUPS.
ROUTE_WEIGHT_PATHS = [f"spec.rules[0].backendRefs[{i}].weight" for i in range(len(GROUPS))]
CANARY_INGRESS = f"{APP}-canary"
CANARY_WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
INGRESS_WEIGHT_PATHS = [f'metadata.annotations["{CANARY_WEIGHT_ANNOTATION}"]']


@dataclass
class CanaryRouterArgs:
    router: str  # gateway_api | ingress_nginx
    namespace: str
    host: str
    canary_weight: int
    gate_owns_weights: bool
    gateway_class: str
    labels: dict[str, str]


class CanaryRouter(pulumi.ComponentResource):
    def __init__(self, name: str, args: CanaryRouterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:kubernetes:CanaryRouter", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        if args.router == "gateway_api":
            self._gateway_api(name)
            # What the gate's traffic option takes (canary_gate traffic.gateway_api).
            self.gate_traffic = {
                "gateway_api": {
                    "namespace": args.namespace,
                    "route": ROUTE_NAME,
                    "stable_service": service_name("stable"),
                    "canary_service": service_name("canary"),
                }
            }
        else:
            self._ingress_nginx(name)
            self.gate_traffic = {"ingress_nginx": {"namespace": args.namespace, "ingress": CANARY_INGRESS}}
        self.register_outputs({"gate_traffic": self.gate_traffic})

    def _metadata(self, resource: str, group: str | None = None, **extra) -> dict:
        labels = {**self._args.labels, **(group_labels(group) if group else {"app.kubernetes.io/name": APP})}
        return {"name": resource, "namespace": self._args.namespace, "labels": labels, **extra}

    def _weights_owned(self, paths: list[str]) -> pulumi.ResourceOptions:
        ignored = paths if self._args.gate_owns_weights else None
        return pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(ignore_changes=ignored))

    def _gateway_api(self, name: str) -> None:
        args = self._args
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API_VERSION,
            kind="Gateway",
            metadata=self._metadata(APP),
            spec={
                "gatewayClassName": args.gateway_class,
                "listeners": [
                    {
                        "name": "http",
                        "protocol": "HTTP",
                        "port": 80,
                        "hostname": args.host,
                        "allowedRoutes": {"namespaces": {"from": "Same"}},
                    }
                ],
            },
            opts=self._child,
        )
        weights = {"stable": 100 - args.canary_weight, "canary": args.canary_weight}
        self.route = k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version=GATEWAY_API_VERSION,
            kind="HTTPRoute",
            metadata=self._metadata(ROUTE_NAME),
            spec={
                "parentRefs": [{"name": APP, "sectionName": "http"}],
                "hostnames": [args.host],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": [
                            {"name": service_name(g), "port": SERVICE_PORT, "weight": weights[g]} for g in GROUPS
                        ],
                    }
                ],
            },
            opts=pulumi.ResourceOptions.merge(
                self._weights_owned(ROUTE_WEIGHT_PATHS), pulumi.ResourceOptions(depends_on=[gateway])
            ),
        )

    def _ingress_nginx(self, name: str) -> None:
        args = self._args

        def ingress(group: str, annotations: dict, ingress_opts: pulumi.ResourceOptions) -> k8s.networking.v1.Ingress:
            return k8s.networking.v1.Ingress(
                f"{name}-{group}",
                metadata=self._metadata(service_name(group), group, annotations=annotations),
                spec={
                    "ingress_class_name": "nginx",
                    "rules": [
                        {
                            "host": args.host,
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "path_type": "Prefix",
                                        "backend": {"service": {"name": service_name(group), "port": {"name": "http"}}},
                                    }
                                ]
                            },
                        }
                    ],
                },
                opts=ingress_opts,
            )

        ingress("stable", {}, self._child)
        self.canary_ingress = ingress(
            "canary",
            {"nginx.ingress.kubernetes.io/canary": "true", CANARY_WEIGHT_ANNOTATION: str(args.canary_weight)},
            self._weights_owned(INGRESS_WEIGHT_PATHS),
        )
