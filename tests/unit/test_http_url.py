"""The collection's one check of a configured server address, shared by the Prometheus source and
the Unleash backend."""

from __future__ import annotations

import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.http_url import http_base_url


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("https://prometheus.example:443/prefix/", "https://prometheus.example:443/prefix"),
        ("http://unleash:4242//", "http://unleash:4242"),
    ],
)
def test_absolute_http_urls_lose_only_their_trailing_slash(url, expected) -> None:
    assert http_base_url(url) == expected


@pytest.mark.parametrize("url", ["unleash:4242", "127.0.0.1:9090", "ftp://host/", "http://", "/api", "", None, 9090])
def test_anything_else_is_refused(url) -> None:
    assert http_base_url(url) is None
