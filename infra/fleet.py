"""Fleet: the agent hosts of one region, one auto scaling group per group (stable, canary).

Hosts are reached through Systems Manager, not SSH: no key pair, no port 22. User data only
installs python3 so Ansible can take over; site.yml does everything else.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import FleetGroup
from infra.tagging import tags_for

# The tags the aws_ec2 inventory (inventories/aws/aws_ec2.yml) groups hosts by.
ENV_TAG, REGION_TAG, GROUP_TAG = "perfgate:env", "perfgate:region", "perfgate:group"
USER_DATA = """#cloud-config
package_update: true
packages: [python3]
"""
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


@dataclass
class FleetArgs:
    env: str
    region: str
    provider: aws.Provider
    ami: str
    groups: dict[str, FleetGroup]
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    target_group_arns: dict[str, pulumi.Input[str]]
    tags: dict[str, str]
    root_volume_gib: int = 20
    key_name: str | None = None  # no SSH key unless asked for


class Fleet(pulumi.ComponentResource):
    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:compute:Fleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)

        role = aws.iam.Role(
            f"{name}-instance",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
            tags=tags_for(args.tags, f"{name}-instance"),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name, policy_arn=SSM_CORE_POLICY, opts=child)
        profile = aws.iam.InstanceProfile(
            f"{name}-instance", role=role.name, tags=tags_for(args.tags, f"{name}-instance"), opts=child
        )

        self.launch_templates: dict[str, aws.ec2.LaunchTemplate] = {}
        self.groups: dict[str, aws.autoscaling.Group] = {}
        for group, sizing in args.groups.items():
            host_tags = tags_for(
                args.tags,
                f"{name}-{group}",
                **{ENV_TAG: args.env, REGION_TAG: args.region, GROUP_TAG: group},
            )
            template = aws.ec2.LaunchTemplate(
                f"{name}-{group}",
                image_id=args.ami,
                instance_type=sizing.instance_type,
                key_name=args.key_name,
                iam_instance_profile={"arn": profile.arn},
                vpc_security_group_ids=[args.security_group_id],
                user_data=base64.b64encode(USER_DATA.encode()).decode(),
                # IMDSv2 only, and one hop so containers on the host cannot reach the credentials.
                metadata_options={
                    "http_endpoint": "enabled",
                    "http_tokens": "required",
                    "http_put_response_hop_limit": 1,
                    "instance_metadata_tags": "enabled",
                },
                block_device_mappings=[
                    {
                        "device_name": "/dev/xvda",
                        "ebs": {
                            "volume_type": "gp3",
                            "volume_size": args.root_volume_gib,
                            "encrypted": "true",
                            "delete_on_termination": "true",
                        },
                    }
                ],
                monitoring={"enabled": True},
                tag_specifications=[
                    {"resource_type": "instance", "tags": host_tags},
                    {"resource_type": "volume", "tags": host_tags},
                ],
                update_default_version=True,
                tags=host_tags,
                opts=child,
            )
            self.launch_templates[group] = template
            self.groups[group] = aws.autoscaling.Group(
                f"{name}-{group}",
                min_size=sizing.size,
                max_size=sizing.size,
                desired_capacity=sizing.size,
                vpc_zone_identifiers=args.subnet_ids,
                target_group_arns=[args.target_group_arns[group]],
                health_check_type="ELB",
                health_check_grace_period=120,
                launch_template={"id": template.id, "version": template.latest_version.apply(str)},
                # Instances are replaced one at a time when the template changes.
                instance_refresh={"strategy": "Rolling", "preferences": {"min_healthy_percentage": 50}},
                tags=[{"key": k, "value": v, "propagate_at_launch": True} for k, v in host_tags.items()],
                opts=child,
            )
        self.register_outputs({"group_names": {g: asg.name for g, asg in self.groups.items()}})
