"""HAProxy's runtime API: send one command, return HAProxy's answer.

Standard library only, so this one file also runs where the collection is not installed: the
haproxy_lb role ships it to the load balancers for perfgate-haproxy-save-state.
"""

from __future__ import annotations

import contextlib
import socket


class HAProxyError(Exception):
    """The runtime API could not be reached or did not answer."""


def haproxy_command(address: str, command: str, timeout: float = 5.0) -> str:
    """`address` is a UNIX socket path (starting with /) or host:port."""
    try:
        if address.startswith("/"):
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = address
        else:
            host, port = address.rsplit(":", 1)
            connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = (host, int(port))
        with contextlib.closing(connection):
            connection.settimeout(timeout)
            connection.connect(target)
            connection.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except (OSError, ValueError) as error:
        raise HAProxyError(f"cannot reach the HAProxy runtime API at {address}: {error}") from None
    return b"".join(chunks).decode(errors="replace").strip()
