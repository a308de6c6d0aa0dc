#!/usr/bin/python
"""Ansible module: set the canary's traffic share on a load balancer and read it back."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: canary_share
short_description: Set the canary's share of traffic directly, outside a gated rollout
version_added: "0.1.0"
description:
  - Sets the canary's traffic share in percent on the same backends as M(perfgate.fleet.canary_gate)
    (HAProxy runtime API, AWS ALB weighted target groups, ingress-nginx's canary Ingress, a Gateway
    API HTTPRoute, an Unleash flag's rollout, or a file) and reads every weight back.
  - For the steps a gate does not decide, such as resetting the canary to 0% after a promotion
    once the stable group runs the new version too. Judging stays with canary_gate.
options:
  percent:
    description: The canary's share, 0 to 100.
    type: int
    required: true
  aws_region:
    description: AWS region for the aws_alb backend.
    type: str
extends_documentation_fragment:
  - perfgate.fleet.traffic
requirements:
  - boto3 (for the aws_alb backend)
  - kubernetes (for the ingress_nginx and gateway_api backends)
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have.
    support: full
    details: Reads the live share and reports whether it would change it.
  diff_mode:
    description: Returns details on what changed, in diff mode.
    support: none
  platform:
    description: Target OS and families the module runs on.
    support: full
    platforms: posix
author:
  - perfgate maintainers (@perfgate)
"""

EXAMPLES = r"""
- name: After promotion, send everything to the (upgraded) stable servers again
  perfgate.fleet.canary_share:
    percent: 0
    traffic:
      haproxy:
        socket: /run/haproxy/admin.sock
        backend: checksum
        stable_servers: [stable1, stable2]
        canary_servers: [canary1]
  delegate_to: localhost
"""

RETURN = r"""
percent_before:
  description: The canary's share before, as read from the backend.
  returned: success
  type: float
percent_after:
  description: The canary's share after, as read back.
  returned: success
  type: float
traffic:
  description: What the backend reported after applying (weights and share).
  returned: when changed
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import (
    TRAFFIC_OPTION,
    TrafficError,
    build_traffic,
)

ARGUMENT_SPEC = {
    "traffic": TRAFFIC_OPTION,  # shared with canary_gate, where it is optional; checked below
    "percent": {"type": "int", "required": True},
    "aws_region": {"type": "str"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["traffic"] is None:
        module.fail_json(msg="canary_share: traffic is required (the backend whose share to set)")
    percent = module.params["percent"]
    if not 0 <= percent <= 100:
        module.fail_json(msg=f"canary_share: percent must be between 0 and 100, not {percent}")
    try:
        backend = build_traffic(module.params["traffic"], module.params["aws_region"])
        before = round(backend.share(), 2)
        if abs(before - percent) < 0.5 or module.check_mode:
            module.exit_json(changed=abs(before - percent) >= 0.5, percent_before=before, percent_after=before)
        applied = backend.set_share(percent)
        after = round(backend.share(), 2)
    except TrafficError as error:
        module.fail_json(msg=f"canary_share: {error}")
    module.exit_json(changed=True, percent_before=before, percent_after=after, traffic=applied)


if __name__ == "__main__":
    main()
