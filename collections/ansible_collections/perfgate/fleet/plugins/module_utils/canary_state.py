"""Rollout state on disk: one JSON file per rollout plus an append-only decision log.

Every write is atomic (temporary file, fsync, rename, fsync of the directory) and every
read-modify-write happens under an exclusive lock, so two gate runs cannot interleave. A file that
does not parse is reported and left exactly as it is; it is never reset silently.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time

from ansible_collections.perfgate.fleet.plugins.module_utils.atomic_write import atomic_write_json
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_policy import RolloutState

ROLLOUT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class StateError(Exception):
    """The state cannot be read, locked or written; the message says what to do."""


class StateStore:
    def __init__(self, state_dir: str, rollout: str):
        if not ROLLOUT_ID.match(rollout or ""):
            raise StateError(f"rollout id {rollout!r} is not valid: use letters, digits, '.', '_' or '-' (at most 128)")
        self.state_dir = state_dir
        self.rollout = rollout
        self.path = os.path.join(state_dir, f"{rollout}.json")
        self.log_path = os.path.join(state_dir, f"{rollout}.decisions.jsonl")
        self._lock_path = os.path.join(state_dir, f"{rollout}.lock")
        self._lock_fd: int | None = None

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc) -> None:
        self.unlock()

    def lock(self, timeout: float) -> None:
        try:
            os.makedirs(self.state_dir, exist_ok=True)
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StateError(f"cannot use state_dir {self.state_dir}: {error.strerror}") from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(self._lock_fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    os.close(self._lock_fd)
                    self._lock_fd = None
                    raise StateError(
                        f"another canary_gate run (pid {holder}) is working on rollout {self.rollout}; "
                        f"nothing was changed. Wait for it to finish and run again"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, str(os.getpid()).encode(), 0)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def load(self) -> RolloutState | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StateError(f"cannot read state file {self.path}: {error.strerror}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            state = RolloutState.from_dict(data)
        except (ValueError, TypeError) as error:
            raise StateError(
                f"state file {self.path} is corrupt ({error}); it was left untouched. Inspect it, restore it "
                f"from the decision log {self.log_path}, or move it aside to start rollout {self.rollout} again"
            ) from None
        if state.rollout != self.rollout:
            raise StateError(f"state file {self.path} belongs to rollout {state.rollout!r}, not {self.rollout!r}")
        return state

    def save(self, state: RolloutState) -> None:
        try:
            atomic_write_json(self.path, state.as_dict())
        except OSError as error:
            raise StateError(f"cannot write state file {self.path}: {error.strerror}") from None

    def append_decision(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True) + "\n"
        try:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise StateError(f"cannot append to decision log {self.log_path}: {error.strerror}") from None
