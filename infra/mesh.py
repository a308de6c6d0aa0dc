"""InterRegionMesh: a transit gateway per region, peered with every other region's.

n regions give n(n-1)/2 peerings. Transit gateway peerings do not propagate routes, so every
remote CIDR gets a static route in each transit gateway's route table and in the VPC's internal
route tables.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.network import RegionalNetwork
from infra.tagging import tags_for


@dataclass
class MeshMember:
    region: str
    cidr: str
    provider: aws.Provider
    network: RegionalNetwork


@dataclass
class InterRegionMeshArgs:
    members: list[MeshMember]
    tags: dict[str, str]


class InterRegionMesh(pulumi.ComponentResource):
    def __init__(self, name: str, args: InterRegionMeshArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:network:InterRegionMesh", name, None, opts)
        gateways: dict[str, aws.ec2transitgateway.TransitGateway] = {}
        attachments: dict[str, aws.ec2transitgateway.VpcAttachment] = {}
        for member in args.members:
            child = pulumi.ResourceOptions(parent=self, provider=member.provider)
            gateways[member.region] = aws.ec2transitgateway.TransitGateway(
                f"{name}-{member.region}",
                description=f"perfgate {member.region}",
                # Peering routes are static (below); propagation stays on for the local VPC.
                default_route_table_association="enable",
                default_route_table_propagation="enable",
                dns_support="enable",
                tags=tags_for(args.tags, f"{name}-{member.region}"),
                opts=child,
            )
            attachments[member.region] = aws.ec2transitgateway.VpcAttachment(
                f"{name}-{member.region}",
                transit_gateway_id=gateways[member.region].id,
                vpc_id=member.network.vpc.id,
                subnet_ids=[s.id for s in member.network.subnets["isolated"]],
                tags=tags_for(args.tags, f"{name}-{member.region}"),
                opts=child,
            )

        by_region = {m.region: m for m in args.members}
        self.peerings: list[aws.ec2transitgateway.PeeringAttachment] = []
        peering_for: dict[tuple[str, str], pulumi.Output[str]] = {}
        for first, second in itertools.combinations(args.members, 2):
            pair = f"{name}-{first.region}-{second.region}"
            peering = aws.ec2transitgateway.PeeringAttachment(
                pair,
                transit_gateway_id=gateways[first.region].id,
                peer_region=second.region,
                peer_transit_gateway_id=gateways[second.region].id,
                tags=tags_for(args.tags, pair, Side="requester"),
                opts=pulumi.ResourceOptions(parent=self, provider=first.provider),
            )
            accepter = aws.ec2transitgateway.PeeringAttachmentAccepter(
                pair,
                transit_gateway_attachment_id=peering.id,
                tags=tags_for(args.tags, pair, Side="accepter"),
                opts=pulumi.ResourceOptions(parent=self, provider=second.provider),
            )
            self.peerings.append(peering)
            # Routes over a peering only work once it is accepted, hence the dependency on the
            # accepter (whose id is the same attachment id).
            peering_for[(first.region, second.region)] = accepter.transit_gateway_attachment_id
            peering_for[(second.region, first.region)] = accepter.transit_gateway_attachment_id

        for (local, remote), attachment_id in peering_for.items():
            member, peer = by_region[local], by_region[remote]
            child = pulumi.ResourceOptions(parent=self, provider=member.provider)
            aws.ec2transitgateway.Route(
                f"{name}-{local}-to-{remote}",
                destination_cidr_block=peer.cidr,
                transit_gateway_attachment_id=attachment_id,
                transit_gateway_route_table_id=gateways[local].association_default_route_table_id,
                opts=child,
            )
            for index, table in enumerate(member.network.internal_route_tables):
                aws.ec2.Route(
                    f"{name}-{local}-to-{remote}-{index}",
                    route_table_id=table.id,
                    destination_cidr_block=peer.cidr,
                    transit_gateway_id=gateways[local].id,
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[attachments[local]])),
                )

        self.register_outputs({"transit_gateway_ids": {region: gw.id for region, gw in gateways.items()}})
