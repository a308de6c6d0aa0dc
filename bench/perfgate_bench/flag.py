"""The agent's feature flag: which of the checksum's two implementations a request is served by.

Each request is decided by the Unleash SDK for the user its request header names, so a user stays
on one side while the rollout grows (Unleash hashes the user id with the flag's group id). The
flag-off side is the safe one. A request is served flag-off until the SDK has fetched the flag
from the server in this process, and again whenever the server has not answered for
`stale_after` seconds; those requests are counted as fallbacks.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from UnleashClient import UnleashClient
from UnleashClient.cache import BaseCache
from UnleashClient.constants import FEATURES_URL
from UnleashClient.utils import InstanceAllowType


class MemoryCache(BaseCache):
    """The SDK's cache, in memory. The SDK's default file cache outlives a restart: a restarted
    agent would serve the flag as it stood whenever the file was written, and the SDK would
    report that state as ready before it had heard from the server."""

    def __init__(self):
        self._values: dict = {}

    def set(self, key, value):
        self._values[key] = value

    def mset(self, data):
        self._values.update(data)

    def get(self, key, default=None):
        return self._values.get(key, default)

    def exists(self, key):
        return key in self._values

    def destroy(self):
        self._values.clear()


class FeatureFlag:
    """One flag of one Unleash server, evaluated per request."""

    def __init__(
        self,
        url: str,
        token: str,
        name: str,
        app_name: str,
        refresh_interval: int = 1,
        stale_after: float = 5.0,
    ):
        self.url = url
        self.name = name
        self.stale_after = stale_after
        self.last_answer: float | None = None
        # Fetches that hang must not outlast the staleness limit by much, and a failed fetch is
        # retried by the next refresh rather than by the SDK's own retries. The SDK hands
        # custom_options to requests, whose response hook sees every fetch's answer: a 304 (the
        # flags did not change) is as much an answer as a 200, and the SDK records neither.
        self.client = UnleashClient(
            url=url,
            app_name=app_name,
            instance_id=f"{app_name}-{id(self):x}",
            refresh_interval=refresh_interval,
            request_timeout=max(1, int(stale_after) // 2),
            request_retries=0,
            custom_headers={"Authorization": token},
            custom_options={"hooks": {"response": self._note_answer}},
            cache=MemoryCache(),
            multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
        )
        self._answering = False
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        """Starts the SDK off the calling thread: its first fetch blocks for up to its timeout,
        and the service must answer (flag-off) meanwhile."""
        # The SDK logs a traceback for every failed fetch, once a second while the server is
        # down; the watcher reports each outage once instead.
        logging.getLogger("UnleashClient").setLevel(logging.CRITICAL)
        threading.Thread(target=self.client.initialize_client, daemon=True).start()
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        self.client.destroy()

    def _note_answer(self, response, *args, **kwargs):
        if response.status_code in (200, 304) and response.url.split("?")[0].endswith(FEATURES_URL):
            self.last_answer = time.monotonic()
        return response

    def answering(self) -> bool:
        last = self.last_answer
        return last is not None and time.monotonic() - last <= self.stale_after

    def is_on(self, user_id: str | None) -> bool | None:
        """True or False as the flag decides for this user; None when the server is not
        answering, which the caller serves as flag-off and counts as a fallback."""
        if not self.answering():
            return None
        context = {"userId": user_id} if user_id else {}
        return self.client.is_enabled(self.name, context)

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            answering = self.answering()
            if answering != self._answering:
                self._answering = answering
                state = "answers" if answering else "does not answer"
                side = f"the flag {self.name} decides each request" if answering else "serving flag-off"
                print(f"perfgate-bench: Unleash at {self.url} {state}; {side}", file=sys.stderr, flush=True)
