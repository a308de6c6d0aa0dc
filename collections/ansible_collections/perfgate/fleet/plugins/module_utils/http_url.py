"""The one check every HTTP client of the collection applies to a configured server address."""

from __future__ import annotations

import urllib.parse


def http_base_url(url) -> str | None:
    """url without its trailing slash when it is an absolute http:// or https:// URL, else None,
    so each caller can word the error for its own option."""
    if not isinstance(url, str):
        return None
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    return url.rstrip("/")
