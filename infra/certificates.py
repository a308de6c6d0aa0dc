"""DnsValidatedCertificate: an ACM certificate for the stack's DNS name in one region, validated
by a CNAME in the stack's hosted zone, for that region's HTTPS listener.

ACM certificates are regional, so each region requests its own. ACM gives the same validation
CNAME for the same name in every region of an account, so the regions' validation records are
the same record; allow_overwrite lets the second region adopt it instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.tagging import tags_for


@dataclass
class DnsValidatedCertificateArgs:
    domain_name: str  # for example perfgate-prod.example.com
    hosted_zone_id: str
    provider: aws.Provider  # the region of the load balancer that uses it
    tags: dict[str, str]


class DnsValidatedCertificate(pulumi.ComponentResource):
    def __init__(self, name: str, args: DnsValidatedCertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:dns:DnsValidatedCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        certificate = aws.acm.Certificate(
            name,
            domain_name=args.domain_name,
            validation_method="DNS",
            tags=tags_for(args.tags, name),
            opts=child,
        )
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-validation",
            zone_id=args.hosted_zone_id,
            name=option.resource_record_name,
            type=option.resource_record_type,
            records=[option.resource_record_value],
            ttl=300,
            allow_overwrite=True,
            opts=child,
        )
        validation = aws.acm.CertificateValidation(
            name, certificate_arn=certificate.arn, validation_record_fqdns=[record.fqdn], opts=child
        )
        # The validated ARN: a listener that uses it waits until ACM has issued the certificate.
        self.arn = validation.certificate_arn
        self.register_outputs({"arn": self.arn})
