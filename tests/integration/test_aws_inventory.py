"""inventories/aws/aws_ec2.yml against moto's EC2: instances tagged the way infra/fleet.py tags
them land in the groups site.yml and rollout.yml use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from infra.fleet import ENV_TAG, GROUP_TAG, REGION_TAG

REPO = Path(__file__).resolve().parents[2]
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}


def launch(endpoint: str, region: str, env: str, group: str, project: str = "perfgate") -> str:
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint, **_credentials())
    tags = {"project": project, ENV_TAG: env, REGION_TAG: region, GROUP_TAG: group}
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="c6i.large",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
    )["Instances"][0]
    return instance["InstanceId"]


def unwrapped(value):
    """ansible-inventory's JSON with the unsafe markers (values from the cloud) taken off."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrapped(v) for v in value]
    return value


def _credentials() -> dict:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_instances_are_grouped_by_their_perfgate_tags(moto_endpoint):
    stable = launch(moto_endpoint, "eu-west-1", "dev", "stable")
    canary = launch(moto_endpoint, "eu-west-1", "dev", "canary")
    prod_stable = launch(moto_endpoint, "us-east-1", "prod", "stable")
    stranger = launch(moto_endpoint, "eu-west-1", "dev", "stable", project="someone-else")

    listing = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-inventory")), "-i", "inventories/aws/aws_ec2.yml", "--list"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **AWS_ENV, "AWS_URL": moto_endpoint, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    inventory = json.loads(listing.stdout)
    hosts = lambda group: set(inventory.get(group, {}).get("hosts", []))  # noqa: E731
    assert hosts("stable") == {stable, prod_stable}
    assert hosts("canary") == {canary}
    assert set(inventory["agents"].get("hosts", [])) == {stable, canary, prod_stable}
    assert hosts("env_dev") == {stable, canary} and hosts("env_prod") == {prod_stable}
    assert hosts("region_eu_west_1") == {stable, canary}
    assert stranger not in inventory["_meta"]["hostvars"]
    variables = unwrapped(inventory["_meta"]["hostvars"][canary])
    assert variables["region"] == "eu-west-1"
    assert variables["ansible_host"] == canary and variables["ansible_connection"] == "amazon.aws.aws_ssm"
    # Each agent runs its own Prometheus, scraping only itself by its private address, so the
    # series it remote-writes stay apart from the other hosts'.
    assert hosts("monitoring") == {stable, canary, prod_stable}
    private_ip = variables["private_ip_address"]
    assert variables["perfgate_prometheus_agent_targets"] == [
        {"address": f"{private_ip}:8080", "group": "canary", "region": "eu-west-1"}
    ]
    assert variables["perfgate_prometheus_node_targets"] == [
        {"address": f"{private_ip}:9100", "group": "canary", "region": "eu-west-1"}
    ]
    assert variables["perfgate_prometheus_haproxy_targets"] == []
