"""GlobalEntry: one DNS name for all regions, answered by Route 53 with the lowest-latency healthy ALB."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.tagging import tags_for


@dataclass
class RegionalEndpoint:
    region: str
    dns_name: pulumi.Input[str]
    zone_id: pulumi.Input[str]  # the ALB's canonical hosted zone
    https: bool


@dataclass
class GlobalEntryArgs:
    domain: str  # the hosted zone, for example example.com
    hosted_zone_id: str  # its id, from the config: looking it up would fail every preview without the zone
    record_name: str  # for example perfgate.example.com
    provider: aws.Provider  # Route 53 is global; any region's provider works
    endpoints: list[RegionalEndpoint]
    tags: dict[str, str]


class GlobalEntry(pulumi.ComponentResource):
    def __init__(self, name: str, args: GlobalEntryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:dns:GlobalEntry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        for endpoint in args.endpoints:
            health = aws.route53.HealthCheck(
                f"{name}-{endpoint.region}",
                fqdn=endpoint.dns_name,
                type="HTTPS" if endpoint.https else "HTTP",
                port=443 if endpoint.https else 80,
                resource_path="/healthz",
                request_interval=10,
                failure_threshold=3,
                regions=["us-east-1", "eu-west-1", "ap-southeast-1"],
                tags=tags_for(args.tags, f"{name}-{endpoint.region}"),
                opts=child,
            )
            aws.route53.Record(
                f"{name}-{endpoint.region}",
                zone_id=args.hosted_zone_id,
                name=args.record_name,
                type="A",
                set_identifier=endpoint.region,
                latency_routing_policies=[{"region": endpoint.region}],
                health_check_id=health.id,
                aliases=[{"name": endpoint.dns_name, "zone_id": endpoint.zone_id, "evaluate_target_health": True}],
                opts=child,
            )
        self.register_outputs({"record_name": args.record_name})
