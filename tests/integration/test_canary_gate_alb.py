"""canary_gate's aws_alb backend against moto's server: weights set on the listener and read back."""

from __future__ import annotations

import boto3
import pytest
from ansible_run import run_task


@pytest.fixture
def alb(moto_aws_env):
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    elbv2 = boto3.client("elbv2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in enumerate("ab")
    ]
    balancer = elbv2.create_load_balancer(Name="perfgate-test", Subnets=subnets)["LoadBalancers"][0]
    groups = {
        g: elbv2.create_target_group(Name=f"perfgate-{g}", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0][
            "TargetGroupArn"
        ]
        for g in ("stable", "canary")
    }
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups["stable"], "Weight": 100},
                        {"TargetGroupArn": groups["canary"], "Weight": 0},
                    ]
                },
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    return elbv2, listener, groups


def listener_weights(elbv2, listener, groups):
    action = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"][0]
    by_arn = {g["TargetGroupArn"]: g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]}
    return by_arn[groups["stable"]], by_arn[groups["canary"]]


def test_weights_are_set_on_the_listener_and_read_back(tmp_path, alb, healthy_canary_counts):
    elbv2, listener, groups = alb
    task = {
        "perfgate.fleet.canary_gate": {
            "rollout": "alb-test",
            "state_dir": str(tmp_path / "state"),
            "aws_region": "eu-west-1",
            **healthy_canary_counts,
            "traffic": {
                "aws_alb": {
                    "listener_arn": listener,
                    "stable_target_group_arn": groups["stable"],
                    "canary_target_group_arn": groups["canary"],
                }
            },
        }
    }
    for expected in (10, 25):
        result = run_task(task)
        assert not result.get("failed"), result.get("msg")
        assert result["weight_after"] == expected
        assert listener_weights(elbv2, listener, groups) == (100 - expected, expected)
    rollback = run_task({"perfgate.fleet.canary_gate": {**task["perfgate.fleet.canary_gate"], "action": "rollback"}})
    assert rollback["weight_after"] == 0
    assert listener_weights(elbv2, listener, groups) == (100, 0)
