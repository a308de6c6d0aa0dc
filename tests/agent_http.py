"""Talking to perfgate-bench serve from tests: requests and its parsed /metrics."""

from __future__ import annotations

import http.client

from prometheus_client.parser import text_string_to_metric_families


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def metric_families(port):
    status, _, body = request(port, "GET", "/metrics")
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(body.decode())}
