"""The AWS variant of a stack: every region's network, load balancer, fleet and monitoring, the
mesh between regions, and the optional global DNS entry. Exports what site.yml and rollout.yml
need (see infra/stack_vars.py)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.certificates import DnsValidatedCertificate, DnsValidatedCertificateArgs
from infra.config import StackConfig
from infra.fleet import Fleet, FleetArgs
from infra.global_entry import GlobalEntry, GlobalEntryArgs, RegionalEndpoint
from infra.load_balancer import CanaryLoadBalancer, CanaryLoadBalancerArgs
from infra.mesh import InterRegionMesh, InterRegionMeshArgs, MeshMember
from infra.monitoring import Monitoring, MonitoringArgs, PrometheusWorkspace, PrometheusWorkspaceArgs
from infra.network import RegionalNetwork, RegionalNetworkArgs


def declare(config: StackConfig) -> None:
    tags = dict(config.tags)
    regions_output: dict[str, dict] = {}
    members: list[MeshMember] = []
    endpoints: list[RegionalEndpoint] = []
    # One explicit provider per region; no component reads the ambient AWS region.
    providers = {r.name: aws.Provider(f"aws-{r.name}", region=r.name) for r in config.regions}
    first_provider = providers[config.regions[0].name]
    record_name = f"perfgate-{config.env}.{config.domain}" if config.domain else None
    workspace = None
    if config.managed_prometheus:
        workspace = PrometheusWorkspace(
            f"perfgate-{config.env}-amp",
            PrometheusWorkspaceArgs(
                env=config.env,
                provider=first_provider,
                retention_days=config.prometheus_log_retention_days,
                tags=tags,
            ),
        )
    for region in config.regions:
        provider = providers[region.name]
        name = f"perfgate-{config.env}-{region.name}"
        network = RegionalNetwork(
            name,
            RegionalNetworkArgs(
                region=region,
                provider=provider,
                az_count=config.az_count,
                nat=config.nat,
                flow_log_retention_days=config.flow_log_retention_days,
                tags=tags,
            ),
        )
        certificate = _certificate(config, region.name, name, record_name, provider, tags)
        balancer = CanaryLoadBalancer(
            name,
            CanaryLoadBalancerArgs(
                env=config.env,
                region=region.name,
                provider=provider,
                vpc_id=network.vpc.id,
                public_subnet_ids=[s.id for s in network.subnets["public"]],
                agent_port=config.agent_port,
                weights=dict(config.weights),
                gate_owns_weights=config.gate_owns_weights,
                access_log_retention_days=config.access_log_retention_days,
                certificate_arn=certificate,
                tags=tags,
            ),
        )
        fleet = Fleet(
            name,
            FleetArgs(
                env=config.env,
                region=region.name,
                provider=provider,
                ami=config.ami,
                groups=dict(config.fleet),
                subnet_ids=[s.id for s in network.subnets["private"]],
                security_group_id=balancer.target_security_group.id,
                target_group_arns={g: tg.arn for g, tg in balancer.target_groups.items()},
                prometheus_workspace_arn=workspace.workspace.arn if workspace else None,
                tags=tags,
            ),
        )
        monitoring = Monitoring(
            name,
            MonitoringArgs(
                region=region.name,
                provider=provider,
                alb_arn_suffix=balancer.alb.arn_suffix,
                target_group_arn_suffixes={g: tg.arn_suffix for g, tg in balancer.target_groups.items()},
                thresholds=config.alarms,
                subscriptions=config.alarm_subscriptions,
                tags=tags,
            ),
        )
        members.append(MeshMember(region.name, str(region.cidr), provider, network))
        endpoints.append(
            RegionalEndpoint(region.name, balancer.alb.dns_name, balancer.alb.zone_id, certificate is not None)
        )
        regions_output[region.name] = {
            "vpc_id": network.vpc.id,
            "listener_arn": balancer.listener.arn,
            "target_group_arns": {g: tg.arn for g, tg in balancer.target_groups.items()},
            "target_group_arn_suffixes": {g: tg.arn_suffix for g, tg in balancer.target_groups.items()},
            "alb_arn_suffix": balancer.alb.arn_suffix,
            "alb_dns_name": balancer.alb.dns_name,
            "sns_topic_arn": monitoring.topic.arn,
            "ssm_bucket": fleet.transfer_bucket.bucket,
            "amp_remote_write_url": workspace.remote_write_url if workspace else None,
            "amp_query_url": workspace.query_url if workspace else None,
        }

    if len(config.regions) > 1:
        InterRegionMesh(f"perfgate-{config.env}-mesh", InterRegionMeshArgs(members=members, tags=tags))
    if config.domain:
        GlobalEntry(
            f"perfgate-{config.env}-global",
            GlobalEntryArgs(
                domain=config.domain,
                hosted_zone_id=config.hosted_zone_id,
                record_name=record_name,
                provider=first_provider,
                endpoints=endpoints,
                tags=tags,
            ),
        )

    pulumi.export("env", config.env)
    pulumi.export("weights_owner", config.weights_owner)
    pulumi.export("regions", regions_output)


def _certificate(config: StackConfig, region: str, name: str, record_name: str | None, provider, tags):
    """The HTTPS listener's certificate: the configured ARN, or ACM's validated in the stack's zone."""
    source = config.certificate_source(region)
    if source == "arn":
        return config.certificate_arns[region]
    if source == "none":
        return None
    certificate = DnsValidatedCertificate(
        f"{name}-certificate",
        DnsValidatedCertificateArgs(
            domain_name=record_name, hosted_zone_id=config.hosted_zone_id, provider=provider, tags=tags
        ),
    )
    return certificate.arn
