"""Atomic file writes: a temporary file in the same directory, flushed and fsynced, renamed over
the target, then the directory fsynced. Readers see the old file or the new one, never a part,
and the new one survives a crash once the call returns.

Standard library only, so this one file also runs where the collection is not installed: the
haproxy_lb role ships it for perfgate-haproxy-save-state.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile


def atomic_write_bytes(path: str, data: bytes, mode: int = 0o644) -> None:
    directory = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def atomic_write_json(path: str, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
