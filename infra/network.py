"""RegionalNetwork: one region's VPC with public, private and isolated subnets across its AZs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import SUBNET_TIERS, Region, subnet_cidr
from infra.tagging import tags_for

# Interface endpoints that let instances in private subnets reach Systems Manager (the fleet's
# only remote access: no SSH keys, no port 22) without going through the NAT.
SSM_INTERFACE_SERVICES = ("ssm", "ssmmessages", "ec2messages")


@dataclass
class RegionalNetworkArgs:
    region: Region
    provider: aws.Provider
    az_count: int
    nat: str  # single | per_az
    flow_log_retention_days: int
    tags: dict[str, str]


class RegionalNetwork(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    subnets: dict[str, list[aws.ec2.Subnet]]

    def __init__(self, name: str, args: RegionalNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:network:RegionalNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        region = args.region
        tag = lambda suffix, **extra: tags_for(args.tags, f"{name}-{suffix}", **extra)  # noqa: E731

        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(provider=args.provider)).names[
            : args.az_count
        ]
        if len(zones) < args.az_count:
            raise ValueError(f"{region.name} has {len(zones)} available AZs; the stack asks for {args.az_count}")
        self.availability_zones = zones

        self.vpc = aws.ec2.Vpc(
            name,
            cidr_block=str(region.cidr),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=tag("vpc"),
            opts=child,
        )
        self.subnets = {tier: [] for tier in SUBNET_TIERS}
        for tier in SUBNET_TIERS:
            for index, zone in enumerate(zones):
                self.subnets[tier].append(
                    aws.ec2.Subnet(
                        f"{name}-{tier}-{index}",
                        vpc_id=self.vpc.id,
                        cidr_block=subnet_cidr(region, tier, index),
                        availability_zone=zone,
                        map_public_ip_on_launch=False,
                        tags=tag(f"{tier}-{zone}", **{"perfgate:tier": tier}),
                        opts=child,
                    )
                )

        internet_gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tag("igw"), opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": internet_gateway.id}],
            tags=tag("public"),
            opts=child,
        )
        for index, subnet in enumerate(self.subnets["public"]):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )

        # single: one NAT for the region (cheap, but an AZ outage cuts the others' egress);
        # per_az: one per AZ, each private subnet leaving through its own AZ's NAT.
        nat_count = 1 if args.nat == "single" else len(zones)
        nat_gateways = []
        for index in range(nat_count):
            address = aws.ec2.Eip(f"{name}-nat-{index}", domain="vpc", tags=tag(f"nat-{index}"), opts=child)
            nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    allocation_id=address.id,
                    subnet_id=self.subnets["public"][index].id,
                    tags=tag(f"nat-{index}"),
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[internet_gateway])),
                )
            )
        self.private_route_tables = []
        for index, subnet in enumerate(self.subnets["private"]):
            table = aws.ec2.RouteTable(
                f"{name}-private-{index}",
                vpc_id=self.vpc.id,
                tags=tag(f"private-{zones[index]}"),
                opts=child,
            )
            aws.ec2.Route(
                f"{name}-private-{index}-egress",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nat_gateways[index % nat_count].id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            self.private_route_tables.append(table)
        # Isolated subnets (databases, state) have no route out of the VPC except the peers'
        # CIDRs that InterRegionMesh adds.
        self.isolated_route_table = aws.ec2.RouteTable(
            f"{name}-isolated", vpc_id=self.vpc.id, tags=tag("isolated"), opts=child
        )
        for index, subnet in enumerate(self.subnets["isolated"]):
            aws.ec2.RouteTableAssociation(
                f"{name}-isolated-{index}", subnet_id=subnet.id, route_table_id=self.isolated_route_table.id, opts=child
            )

        self._lock_down_defaults(name, args, child, tag)
        self._flow_logs(name, args, child, tag)
        self._endpoints(name, args, child, tag)

        self.register_outputs(
            {
                "vpc_id": self.vpc.id,
                "public_subnet_ids": [s.id for s in self.subnets["public"]],
                "private_subnet_ids": [s.id for s in self.subnets["private"]],
                "isolated_subnet_ids": [s.id for s in self.subnets["isolated"]],
            }
        )

    @property
    def internal_route_tables(self) -> list[aws.ec2.RouteTable]:
        """Route tables of the subnets that talk to other regions (private and isolated)."""
        return [*self.private_route_tables, self.isolated_route_table]

    def _lock_down_defaults(self, name, args, child, tag) -> None:
        # The default security group and NACL catch anything created without an explicit one.
        # Emptying them (CIS AWS 5.4) makes such a mistake fail closed; our subnets get their own
        # allow-all NACL because security groups do the filtering.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, tags=tag("default-deny"), opts=child)
        aws.ec2.DefaultNetworkAcl(
            f"{name}-default-nacl",
            default_network_acl_id=self.vpc.default_network_acl_id,
            tags=tag("default-deny"),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["subnetIds"])),
        )
        everything = {
            "protocol": "-1",
            "rule_no": 100,
            "action": "allow",
            "cidr_block": "0.0.0.0/0",
            "from_port": 0,
            "to_port": 0,
        }
        aws.ec2.NetworkAcl(
            f"{name}-subnets",
            vpc_id=self.vpc.id,
            subnet_ids=[s.id for tier in SUBNET_TIERS for s in self.subnets[tier]],
            ingress=[everything],
            egress=[everything],
            tags=tag("subnets"),
            opts=child,
        )

    def _flow_logs(self, name, args, child, tag) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=args.flow_log_retention_days,
            tags=tag("flow-logs"),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            tags=tag("flow-logs"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.flow_log = aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=tag("flow-log"),
            opts=child,
        )

    def _endpoints(self, name, args, child, tag) -> None:
        region = args.region.name
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in self.internal_route_tables],
            tags=tag("s3"),
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to the interface endpoints",
            tags=tag("endpoints"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-endpoints-https",
            security_group_id=endpoint_sg.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=str(args.region.cidr),
            description="HTTPS from the VPC",
            tags=tag("endpoints-https"),
            opts=child,
        )
        for service in SSM_INTERFACE_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in self.subnets["private"]],
                security_group_ids=[endpoint_sg.id],
                tags=tag(service),
                opts=child,
            )
