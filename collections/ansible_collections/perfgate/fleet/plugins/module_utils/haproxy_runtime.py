"""HAProxy runtime API: one server's admin state and live status, for draining during upgrades."""

from __future__ import annotations

import time

from ansible_collections.perfgate.fleet.plugins.module_utils.haproxy_client import HAProxyError, haproxy_command

ADMIN_STATES = ("ready", "drain", "maint")


class ServerError(Exception):
    """HAProxy could not be reached, refused the change, or the server never got there."""


class ServerControl:
    """One server of one backend, through the runtime API."""

    def __init__(self, address: str, backend: str, server: str, timeout: float = 5.0):
        self.address, self.backend, self.server, self.timeout = address, backend, server, timeout

    def _command(self, command: str) -> str:
        try:
            return haproxy_command(self.address, command, self.timeout)
        except HAProxyError as error:
            raise ServerError(str(error)) from None

    def status(self) -> dict:
        """status (UP, DOWN, MAINT, DRAIN, ...), current sessions and weight, from `show stat`."""
        lines = self._command("show stat -1 4 -1").splitlines()
        if not lines or not lines[0].startswith("# "):
            raise ServerError(f"HAProxy: unexpected answer to show stat: {lines[:1]}")
        header = lines[0][2:].split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == self.backend and row.get("svname") == self.server:
                return {"status": row["status"], "sessions": int(row["scur"] or 0), "weight": int(row["weight"] or 0)}
        raise ServerError(f"HAProxy has no server {self.backend}/{self.server}")

    def set_state(self, state: str) -> None:
        if state not in ADMIN_STATES:
            raise ServerError(f"state must be one of {', '.join(ADMIN_STATES)}, not {state!r}")
        answer = self._command(f"set server {self.backend}/{self.server} state {state}")
        if answer:
            raise ServerError(f"HAProxy refused set server {self.backend}/{self.server} state {state}: {answer}")

    def wait_for(self, predicate, timeout: float, what: str, clock=time.monotonic, sleep=time.sleep) -> dict:
        deadline = clock() + timeout
        while True:
            status = self.status()
            if predicate(status):
                return status
            if clock() > deadline:
                raise ServerError(f"{self.backend}/{self.server}: {what} within {timeout:g} s; last status {status}")
            sleep(0.25)
