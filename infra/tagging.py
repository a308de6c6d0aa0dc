"""The four tags every taggable resource carries, plus a Name."""

from __future__ import annotations

from collections.abc import Mapping


def tags_for(base: Mapping[str, str], name: str, **extra: str) -> dict[str, str]:
    """The stack's tags (env, owner, project, cost-center and any others) with a Name and extras."""
    return {**base, "Name": name, **extra}
