"""Unleash's Admin API: one feature flag's strategies and on/off state in one environment.

Only transport and error wording live here; what the gate does with a flag is in
canary_traffic.UnleashFlag.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse

from ansible.module_utils import urls
from ansible_collections.perfgate.fleet.plugins.module_utils.http_url import http_base_url


class UnleashError(Exception):
    """Unleash could not be reached, refused the call, or answered something unusable."""


class UnleashAdmin:
    def __init__(
        self,
        url: str,
        token: str,
        project: str,
        feature: str,
        timeout: float = 10.0,
        validate_certs: bool = True,
        ca_path: str | None = None,
    ):
        self.url = http_base_url(url)
        if self.url is None:
            raise UnleashError(f"the Unleash url {url!r} is not an http:// or https:// URL")
        self.token, self.project, self.feature_name = token, project, feature
        self.timeout, self.validate_certs, self.ca_path = timeout, validate_certs, ca_path

    def _feature_path(self, *rest: str) -> str:
        parts = ["api", "admin", "projects", self.project, "features", self.feature_name, *rest]
        return "/" + "/".join(urllib.parse.quote(part, safe="") for part in parts)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = urls.open_url(
                self.url + path,
                method=method,
                data=None if body is None else json.dumps(body),
                headers={"Authorization": self.token, "Content-Type": "application/json", "Accept": "application/json"},
                timeout=self.timeout,
                validate_certs=self.validate_certs,
                ca_path=self.ca_path,
                use_netrc=False,
                follow_redirects="none",
            )
            with response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise UnleashError(self._refusal(method, path, error.code, error.read())) from None
        except (urllib.error.URLError, TimeoutError, OSError, urls.SSLValidationError, urls.ConnectionError) as error:
            raise UnleashError(f"cannot reach Unleash at {self.url}: {getattr(error, 'reason', error)}") from None
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise UnleashError(f"Unleash at {self.url} did not answer JSON to {method} {path}") from None

    def _refusal(self, method: str, path: str, status: int, raw: bytes) -> str:
        try:
            message = json.loads(raw).get("message") or ""
        except (ValueError, AttributeError):
            message = raw.decode(errors="replace")[:300].strip()
        if status == 401:
            return (
                f"Unleash at {self.url} refused the token (HTTP 401): the gate needs an admin API token "
                f"or a personal access token in token"
            )
        if status == 403:
            return (
                f"Unleash at {self.url} refused {method} {path} (HTTP 403: {message or 'forbidden'}); "
                f"a client or frontend token cannot change flags, use an admin token"
            )
        if status == 404:
            return f"Unleash: {message or 'not found'} (HTTP 404 for {method} {path})"
        return f"Unleash answered HTTP {status} to {method} {path}: {message}"

    def read_feature(self) -> dict:
        return self.call("GET", self._feature_path())

    def environment(self, environment: str) -> dict:
        """The flag's state in one environment: enabled and strategies."""
        for candidate in self.read_feature().get("environments", []):
            if candidate.get("name") == environment:
                return candidate
        raise UnleashError(
            f"Unleash: the flag {self.feature_name!r} in project {self.project!r} has no environment {environment!r}"
        )

    def add_strategy(self, environment: str, strategy: dict) -> dict:
        return self.call("POST", self._feature_path("environments", environment, "strategies"), strategy)

    def update_strategy(self, environment: str, strategy_id: str, strategy: dict) -> dict:
        return self.call("PUT", self._feature_path("environments", environment, "strategies", strategy_id), strategy)

    def switch(self, environment: str, on: bool) -> None:
        self.call("POST", self._feature_path("environments", environment, "on" if on else "off"))
