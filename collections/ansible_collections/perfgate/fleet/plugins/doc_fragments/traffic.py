"""The traffic backends' options, shared by canary_gate and canary_share (whose argument specs
both come from module_utils.canary_traffic.TRAFFIC_OPTIONS)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  traffic:
    description:
      - Where the canary's share of traffic is set and read back. Exactly one backend.
    type: dict
    suboptions:
      haproxy:
        description:
          - HAProxy through its runtime API. Per-server weights (0-256) are chosen so that the canary
            servers together get the share; every weight is read back with C(get weight).
        type: dict
        suboptions:
          socket:
            description: The runtime API, a UNIX socket path or host:port.
            type: str
            required: true
          backend:
            description: The backend that holds the stable and canary servers.
            type: str
            required: true
          stable_servers:
            description: The stable servers' names in that backend.
            type: list
            elements: str
            required: true
          canary_servers:
            description: The canary servers' names in that backend.
            type: list
            elements: str
            required: true
          timeout:
            description: Seconds to wait for each runtime API command.
            type: float
            default: 5
      aws_alb:
        description: An AWS ALB listener's (or one rule's) forward action with weighted target groups.
        type: dict
        suboptions:
          listener_arn:
            description: The listener.
            type: str
            required: true
          rule_arn:
            description: A rule of the listener to set instead of its default action.
            type: str
          stable_target_group_arn:
            description: The stable target group.
            type: str
            required: true
          canary_target_group_arn:
            description: The canary target group.
            type: str
            required: true
          region:
            description: AWS region of the load balancer (default O(aws_region)).
            type: str
      ingress_nginx:
        description:
          - The canary Ingress of ingress-nginx (annotation C(nginx.ingress.kubernetes.io/canary) C("true")).
            The weight goes into its C(nginx.ingress.kubernetes.io/canary-weight) annotation, scaled to
            C(canary-weight-total) when that is set, with a JSON Patch that the API server refuses when
            someone else changed the weight since it was read.
        type: dict
        suboptions:
          namespace:
            description: The Ingress's namespace.
            type: str
            required: true
          ingress:
            description: The canary Ingress's name.
            type: str
            required: true
          kubeconfig:
            description:
              - Kubeconfig file. Without it, C(KUBECONFIG) or C(~/.kube/config), or the pod's service
                account when running inside a cluster.
            type: path
          context:
            description: Kubeconfig context.
            type: str
          timeout:
            description: Seconds to wait for each API call.
            type: float
            default: 10
      gateway_api:
        description:
          - A Gateway API HTTPRoute (C(gateway.networking.k8s.io/v1)) whose rules send to a stable and
            a canary Service by weight. Every rule that references the two Services gets the weights
            (stable 100 minus the share, canary the share), with a JSON Patch that tests each
            backendRef's name and the weight read just before, so the API server refuses it when
            someone else changed the route meanwhile. A backendRef without a weight counts as 1, as in
            the Gateway API.
        type: dict
        suboptions:
          namespace:
            description: The HTTPRoute's namespace.
            type: str
            required: true
          route:
            description: The HTTPRoute's name.
            type: str
            required: true
          stable_service:
            description: The stable Service named in the route's backendRefs.
            type: str
            required: true
          canary_service:
            description: The canary Service named in the route's backendRefs.
            type: str
            required: true
          kubeconfig:
            description:
              - Kubeconfig file. Without it, C(KUBECONFIG) or C(~/.kube/config), or the pod's service
                account when running inside a cluster.
            type: path
          context:
            description: Kubeconfig context.
            type: str
          timeout:
            description: Seconds to wait for each API call.
            type: float
            default: 10
      file:
        description: A JSON file holding C({"canary_weight" N}), for dry runs, tests and other tools.
        type: dict
        suboptions:
          path:
            description: The file, written atomically.
            type: path
            required: true
"""
