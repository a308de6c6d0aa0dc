"""The one_per_region_waves filter that orders the promotion."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.perfgate.fleet.plugins.filter.rollout_waves import one_per_region_waves


def regions(**host_regions):
    return {host: {"region": region} for host, region in host_regions.items()}


def test_each_wave_holds_at_most_one_host_per_region():
    hostvars = regions(a1="a", a2="a", a3="a", b1="b", c1="c", c2="c")
    waves = one_per_region_waves(["a1", "a2", "a3", "b1", "c1", "c2"], hostvars)
    assert waves == [["a1", "b1", "c1"], ["a2", "c2"], ["a3"]]
    for wave in waves:
        wave_regions = [hostvars[host]["region"] for host in wave]
        assert len(wave_regions) == len(set(wave_regions))


def test_one_region_is_one_host_at_a_time():
    assert one_per_region_waves(["s1", "s2"], regions(s1="eu", s2="eu")) == [["s1"], ["s2"]]


def test_no_hosts_no_waves():
    assert one_per_region_waves([], {}) == []


def test_a_host_without_region_is_named():
    with pytest.raises(AnsibleFilterError, match="host b1 has no 'region' variable"):
        one_per_region_waves(["a1", "b1"], {"a1": {"region": "a"}, "b1": {}})
