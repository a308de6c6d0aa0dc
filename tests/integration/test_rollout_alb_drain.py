"""rollout.yml's promotion on AWS: playbooks/tasks/rollout_lb_membership.yml takes a stable instance
out of its ALB target group before it upgrades and puts it back afterwards, against moto's server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AGENT_PORT = 8080


@pytest.fixture
def stable_target(moto_aws_env):
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    elbv2 = boto3.client("elbv2", region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.41.1.0/24")["Subnet"]["SubnetId"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]["InstanceId"]
    group = elbv2.create_target_group(Name="perfgate-stable", Protocol="HTTP", Port=AGENT_PORT, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": instance, "Port": AGENT_PORT}])
    return elbv2, group, instance


def target_state(elbv2, group: str, instance: str) -> str:
    health = elbv2.describe_target_health(TargetGroupArn=group, Targets=[{"Id": instance, "Port": AGENT_PORT}])
    return health["TargetHealthDescriptions"][0]["TargetHealth"]["State"]


def set_membership(tmp_path: Path, group: str, instance: str, membership: str) -> dict:
    """Run the task file as rollout.yml's promotion play does, for one stable host; return its stats."""
    play = [
        {
            "hosts": "stable-1",
            "gather_facts": False,
            "vars": {
                "instance_id": instance,
                "perfgate_agent_port": AGENT_PORT,
                "rollout_my_target": {
                    "region": "eu-west-1",
                    "aws_region": "eu-west-1",
                    "traffic": {"aws_alb": {"listener_arn": "unused-here", "stable_target_group_arn": group}},
                },
            },
            "tasks": [
                {
                    "name": "Membership",
                    "ansible.builtin.include_tasks": str(REPO / "playbooks" / "tasks" / "rollout_lb_membership.yml"),
                    "vars": {"rollout_lb_membership": membership},
                }
            ],
        }
    ]
    playbook = tmp_path / f"{membership}.yml"
    playbook.write_text(yaml.safe_dump(play))
    inventory = tmp_path / "hosts.yml"
    python = sys.executable
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "stable-1": {"ansible_connection": "local", "ansible_python_interpreter": python},
                        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": python},
                    }
                }
            }
        )
    )
    completed = subprocess.run(
        [str(Path(python).with_name("ansible-playbook")), "-i", str(inventory), str(playbook)],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
        check=False,
    )
    report = json.loads(completed.stdout)
    assert completed.returncode == 0, json.dumps(report["plays"][0]["tasks"], indent=1)[-3000:]
    return report["stats"]["stable-1"]


def test_a_stable_instance_leaves_its_target_group_and_comes_back_healthy(tmp_path, stable_target):
    elbv2, group, instance = stable_target
    assert target_state(elbv2, group, instance) == "healthy"

    drained = set_membership(tmp_path, group, instance, "drained")
    assert drained["changed"] == 1
    assert target_state(elbv2, group, instance) == "unused"

    serving = set_membership(tmp_path, group, instance, "serving")
    assert serving["changed"] == 1
    assert target_state(elbv2, group, instance) == "healthy"

    again = set_membership(tmp_path, group, instance, "serving")
    assert again["changed"] == 0  # already registered and healthy: nothing to do
