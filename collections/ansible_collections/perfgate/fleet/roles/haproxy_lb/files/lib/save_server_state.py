"""Save HAProxy's server state (weights, admin states) so a reload keeps what the runtime API set.

usage: python3 /usr/local/lib/perfgate/haproxy/save_server_state.py SOCKET STATE_FILE
A missing socket (HAProxy not running yet) saves nothing and is not an error. The file is
written atomically.
"""

import os
import sys

# Shipped beside this file: the collection's own runtime-API client and atomic writer.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from atomic_write import atomic_write_bytes
from haproxy_client import HAProxyError, haproxy_command


def main() -> int:
    socket_path, state_file = sys.argv[1], sys.argv[2]
    if not os.path.exists(socket_path):
        return 0
    try:
        state = haproxy_command(socket_path, "show servers state")
    except HAProxyError as error:
        print(f"save_server_state: {error}", file=sys.stderr)
        return 1
    atomic_write_bytes(state_file, (state + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
