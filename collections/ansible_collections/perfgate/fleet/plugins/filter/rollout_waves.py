"""Jinja filter that splits hosts into upgrade waves holding at most one host per load balancer.

Promotion drains a stable host from its region's load balancer while it upgrades. Upgrading one
host per region at a time keeps every region at the same spare capacity as upgrading one host
overall, in a fraction of the time when there are several regions.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def one_per_region_waves(hosts, hostvars, key: str = "region") -> list[list[str]]:
    """['a1', 'a2', 'b1'] with regions a, a, b -> [['a1', 'b1'], ['a2']].

    Wave n holds the n-th host of every region, in the order the hosts were given."""
    waves: list[list[str]] = []
    seen_per_region: dict[str, int] = {}
    for host in hosts:
        region = (hostvars.get(host) or {}).get(key)
        if region is None or str(region) == "":
            raise AnsibleFilterError(f"host {host} has no {key!r} variable; every stable host needs one")
        wave = seen_per_region.get(str(region), 0)
        seen_per_region[str(region)] = wave + 1
        if wave == len(waves):
            waves.append([])
        waves[wave].append(str(host))
    return waves


class FilterModule:
    def filters(self):
        return {"one_per_region_waves": one_per_region_waves}
