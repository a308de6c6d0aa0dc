"""Stack configuration: bad values get one clear error before any resource is declared."""

from __future__ import annotations

import copy

import pytest
from pulumi_program import ProgramRun, run_program, stack_config

from infra import config

DEV = stack_config("dev")


def with_changes(**changes) -> dict:
    raw = copy.deepcopy(DEV)
    raw.update(changes)
    return raw


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "k8s"])
def test_committed_stacks_are_valid(stack):
    loaded = config.load(stack_config(stack), stack)
    assert loaded.env == stack and set(loaded.tags) >= set(config.REQUIRED_TAGS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"regions": [{"name": "eu-west-1", "cidr": "10.0.0.0/16"}, {"name": "us-east-1", "cidr": "10.0.128.0/17"}]},
            "eu-west-1 10.0.0.0/16 overlaps us-east-1 10.0.128.0/17",
        ),
        ({"regions": [{"name": "eu-west-9", "cidr": "10.0.0.0/16"}]}, "unknown AWS region 'eu-west-9'"),
        ({"regions": [{"name": "eu-west-1", "cidr": "10.0.0.0/33"}]}, "invalid CIDR '10.0.0.0/33'"),
        ({"regions": [{"name": "eu-west-1", "cidr": "10.0.0.0/8"}]}, "must be a /16 to /24"),
        ({"regions": []}, "non-empty list"),
        ({"weights": {"stable": 90, "canary": 20}}, "must sum to 100; stable 90 + canary 20 = 110"),
        ({"weights": {"stable": 100}}, "exactly the keys stable and canary"),
        ({"weights_owner": "argo"}, "weights_owner must be one of pulumi, gate"),
        ({"az_count": 5}, "az_count must be an integer from 2 to 4"),
        ({"nat": "none"}, "nat must be one of single, per_az"),
        ({"tags": {"env": "dev", "owner": "x", "project": "p"}}, "tags is missing cost-center"),
        ({"alarms": {"error_ceiling": 2}}, "error_ceiling must be a ratio between 0 and 1"),
        ({"alarms": {"error_ceilng": 0.1}}, "unknown key(s) error_ceilng"),
        ({"alarms": {"error_ceiling": "high"}}, "alarms.error_ceiling must be a number"),
        ({"fleet": {"stable": {"instance_type": "c6i.large", "size": 0}}}, "fleet.stable.size must be an integer"),
        ({"flow_log_retention_days": 10}, "CloudWatch Logs retention"),
        ({"wieghts": {}}, "unknown config key(s) perfgate:wieghts"),
        ({"certificate_arns": {"us-west-2": "arn:aws:acm:x"}}, "not in regions: us-west-2"),
    ],
)
def test_bad_config_is_refused_with_a_message_naming_the_problem(changes, message):
    with pytest.raises(config.ConfigError) as raised:
        config.load(with_changes(**changes), "dev")
    assert message in str(raised.value)


def test_bad_config_stops_the_program_before_any_resource_is_declared():
    bad = with_changes(
        regions=[{"name": "eu-west-1", "cidr": "10.0.0.0/16"}, {"name": "us-east-1", "cidr": "10.0.0.0/20"}]
    )
    run = ProgramRun()
    with pytest.raises(Exception, match=r"invalid stack configuration: .*overlaps") as raised:
        run_program("dev", bad, run)
    assert type(raised.value).__name__ == "RunError"  # reported by Pulumi as one line, no traceback
    assert run.resources == []


def test_subnets_are_carved_per_tier_and_az():
    region = config.Region("eu-west-1", __import__("ipaddress").IPv4Network("10.40.0.0/16"))
    assert config.subnet_cidr(region, "public", 0) == "10.40.0.0/20"
    assert config.subnet_cidr(region, "private", 1) == "10.40.80.0/20"
    assert config.subnet_cidr(region, "isolated", 3) == "10.40.176.0/20"
