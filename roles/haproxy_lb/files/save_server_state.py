#!/usr/bin/python3
"""Save HAProxy's server state (weights, admin states) so a reload keeps what the runtime API set.

usage: perfgate-haproxy-save-state SOCKET STATE_FILE
A missing socket (HAProxy not running yet) saves nothing and is not an error. The file is
written atomically.
"""

import os
import socket
import sys


def main() -> int:
    socket_path, state_file = sys.argv[1], sys.argv[2]
    if not os.path.exists(socket_path):
        return 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(5)
        connection.connect(socket_path)
        connection.sendall(b"show servers state\n")
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    temporary = state_file + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(b"".join(chunks))
    os.replace(temporary, state_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
