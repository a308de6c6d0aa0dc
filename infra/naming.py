"""Physical names for the resources AWS limits to 32 characters (load balancers, target groups).

Without a `name` the provider appends 7 random characters to the resource's Pulumi name, and
"perfgate-staging-eu-west-1-canary" plus those is over the limit. These names are explicit,
short and still unique per account: load balancer and target group names are unique per region,
and each holds the stack's env and a region code.
"""

from __future__ import annotations

ELB_NAME_LIMIT = 32
# The longest suffix a target group name gets (see target_group_name).
_LONGEST_GROUP = "canary"
_DIRECTIONS = {
    "north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}  # fmt: skip


def region_code(region: str) -> str:
    """eu-west-1 -> euw1, ap-southeast-1 -> apse1, ca-central-1 -> cac1."""
    area, direction, number = region.split("-")
    return f"{area}{_DIRECTIONS[direction]}{number}"


def load_balancer_name(env: str, region: str) -> str:
    return f"perfgate-{env}-{region_code(region)}"


def target_group_name(env: str, region: str, group: str) -> str:
    return f"{load_balancer_name(env, region)}-{group}"


def longest_env(regions: list[str]) -> int:
    """How long env may be for every name of these regions to fit ELB's limit."""
    longest_code = max((len(region_code(r)) for r in regions), default=5)
    return ELB_NAME_LIMIT - len(f"perfgate--{'x' * longest_code}-{_LONGEST_GROUP}")
