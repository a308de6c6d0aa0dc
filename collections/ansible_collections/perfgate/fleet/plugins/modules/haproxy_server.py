#!/usr/bin/python
"""Ansible module: drain, disable or re-enable one HAProxy server through the runtime API."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: haproxy_server
short_description: Set one HAProxy server to ready, drain or maint and wait for the result
version_added: "0.1.0"
description:
  - Sets a server's admin state through HAProxy's runtime API and reads it back with C(show stat).
  - With O(state=drain) or O(state=maint) it can wait until the server has no current sessions,
    so it can be upgraded without failing a request. With O(state=ready) it can wait until the
    health check reports the server UP again.
  - Runs wherever the runtime API is reachable; usually C(delegate_to) the load balancer or the
    controller when the API is exposed over TCP.
options:
  socket:
    description: The runtime API, a UNIX socket path or host:port.
    type: str
    required: true
  backend:
    description: The backend holding the server.
    type: str
    required: true
  server:
    description: The server's name in the backend.
    type: str
    required: true
  state:
    description: Admin state to set.
    type: str
    choices: [ready, drain, maint]
    required: true
  wait:
    description:
      - Wait until the server has no sessions (drain, maint) or is UP (ready).
    type: bool
    default: true
  timeout:
    description: Seconds to wait before failing.
    type: float
    default: 60
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have.
    support: full
    details: Reads the server state and reports whether it would change it.
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
- name: Take stable1 out of rotation and wait until it is idle
  perfgate.fleet.haproxy_server:
    socket: /run/haproxy/admin.sock
    backend: checksum
    server: stable1
    state: maint

- name: Put it back and wait for its health check
  perfgate.fleet.haproxy_server:
    socket: /run/haproxy/admin.sock
    backend: checksum
    server: stable1
    state: ready
"""

RETURN = r"""
status:
  description: The server's status, sessions and weight after the change, read back with show stat.
  returned: success
  type: dict
  sample: {"status": "MAINT", "sessions": 0, "weight": 256}
previous:
  description: The same before the change.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.perfgate.fleet.plugins.module_utils.haproxy_runtime import (
    ADMIN_STATES,
    ServerControl,
    ServerError,
)

ARGUMENT_SPEC = {
    "socket": {"type": "str", "required": True},
    "backend": {"type": "str", "required": True},
    "server": {"type": "str", "required": True},
    "state": {"type": "str", "required": True, "choices": list(ADMIN_STATES)},
    "wait": {"type": "bool", "default": True},
    "timeout": {"type": "float", "default": 60},
}

# What `show stat` reports for each admin state.
EXPECTED_STATUS = {"maint": ("MAINT",), "drain": ("DRAIN", "NOLB")}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    control = ServerControl(params["socket"], params["backend"], params["server"])
    try:
        previous = control.status()
        state = params["state"]
        already = (
            previous["status"].startswith(EXPECTED_STATUS[state])
            if state in EXPECTED_STATUS
            else not previous["status"].startswith(("MAINT", "DRAIN", "NOLB"))
        )
        if module.check_mode:
            module.exit_json(changed=not already, status=previous, previous=previous)
        if not already:
            control.set_state(state)
        if state == "ready":
            # A server without health checks reports "no check": it takes traffic as soon as it is ready.
            predicate = (lambda s: s["status"].startswith(("UP", "no check"))) if params["wait"] else (lambda s: True)
            status = control.wait_for(predicate, params["timeout"], "did not come UP")
        else:
            status = control.wait_for(
                lambda s: s["status"].startswith(EXPECTED_STATUS[state]) and (s["sessions"] == 0 or not params["wait"]),
                params["timeout"],
                "still has sessions" if params["wait"] else f"did not enter {state}",
            )
    except ServerError as error:
        module.fail_json(msg=f"haproxy_server: {error}")
    module.exit_json(changed=not already, status=status, previous=previous)


if __name__ == "__main__":
    main()
