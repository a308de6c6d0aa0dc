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
      unleash:
        description:
          - A feature flag's gradual rollout in one environment of an Unleash server, through its
            Admin API. The share is the rollout percentage of one C(flexibleRollout) strategy that
            the gate owns (titled C(perfgate canary_gate)) and creates when it is missing; the
            flag's other strategies are never changed. A share above 0 turns the flag on in the
            environment; 0 (a rollback) sets the rollout to 0 and then turns the flag off. Each
            change is read back. Shares are whole percentages.
          - Unleash enables a user when any active strategy does, so other enabled strategies on
            the flag widen its audience; they are listed in the result as C(other_strategies).
          - >-
            For a flag canary, O(perfgate.fleet.canary_gate#module:groups) name the agents'
            C(variant) label values, for example C({canary: "on", baseline: "off"}).
        type: dict
        suboptions:
          url:
            description: The Unleash server, for example C(http://unleash.internal:4242).
            type: str
            required: true
          token:
            description: An admin API token or personal access token. Client tokens cannot change flags.
            type: str
            required: true
          project:
            description: The flag's project.
            type: str
            default: default
          feature:
            description: The flag's name. It must exist; the gate does not create flags.
            type: str
            required: true
          environment:
            description: The Unleash environment whose rollout the gate moves, for example C(production).
            type: str
            required: true
          stickiness:
            description:
              - The context field that keeps a user on one side (C(default) is the user id, then the
                session id, then random).
            type: str
            default: default
          timeout:
            description: Seconds to wait for each Admin API call.
            type: float
            default: 10
          validate_certs:
            description: Verify the server's TLS certificate for an https URL.
            type: bool
            default: true
          ca_path:
            description: A PEM file of CA certificates to verify the server with.
            type: path
      file:
        description: A JSON file holding C({"canary_weight" N}), for dry runs, tests and other tools.
        type: dict
        suboptions:
          path:
            description: The file, written atomically.
            type: path
            required: true
"""
