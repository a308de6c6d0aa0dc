"""CanaryLoadBalancer: an ALB whose listener forwards by weight to a stable and a canary target group.

With a certificate the forwarding listener is HTTPS and port 80 only redirects to it; without one
the ALB listens on HTTP alone, and its security group opens only the ports that have listeners.
The ALB and target groups have explicit short names (infra/naming.py); a change that makes AWS
replace one (its port, protocol or VPC) needs the old one deleted first, as the names are reused.

With weights_owner "gate" the listener's target-group weights are left to canary_gate: Pulumi
writes them on create and then ignores them (ignore_changes), so `pulumi up` during a rollout
does not snap the canary back to its configured weight. Caveat: the ignored paths are positions
in the target-group list, so never add or remove a target group while the gate owns the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.private_bucket import private_bucket
from infra.tagging import tags_for

GROUPS = ("stable", "canary")
# Listener weight paths canary_gate changes; the order follows GROUPS.
GATE_OWNED_WEIGHT_PATHS = [f"defaultActions[0].forward.targetGroups[{i}].weight" for i in range(len(GROUPS))]
# The modern TLS policy: TLS 1.3 with TLS 1.2 fallback, forward-secret ciphers only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass
class CanaryLoadBalancerArgs:
    env: str
    region: str
    provider: aws.Provider
    vpc_id: pulumi.Input[str]
    public_subnet_ids: list[pulumi.Input[str]]
    agent_port: int
    weights: dict[str, int]
    gate_owns_weights: bool
    access_log_retention_days: int
    tags: dict[str, str]
    certificate_arn: pulumi.Input[str] | None = None


class CanaryLoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, args: CanaryLoadBalancerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:traffic:CanaryLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tag = lambda suffix, **extra: tags_for(args.tags, f"{name}-{suffix}", **extra)  # noqa: E731

        https = args.certificate_arn is not None
        self.alb_security_group = aws.ec2.SecurityGroup(
            f"{name}-alb",
            vpc_id=args.vpc_id,
            description="HTTP and HTTPS from anywhere to the ALB" if https else "HTTP from anywhere to the ALB",
            tags=tag("alb"),
            opts=child,
        )
        self.target_security_group = aws.ec2.SecurityGroup(
            f"{name}-targets",
            vpc_id=args.vpc_id,
            description="The agent port, from the ALB only",
            tags=tag("targets"),
            opts=child,
        )

        def tcp_rule(direction: str, suffix: str, group, port: int, description: str, **peer):
            """One TCP port of a security group, to or from `peer` (a CIDR or another group)."""
            rule = aws.vpc.SecurityGroupIngressRule if direction == "in" else aws.vpc.SecurityGroupEgressRule
            rule(
                f"{name}-{suffix}",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                description=description,
                tags=tag(suffix),
                opts=child,
                **peer,
            )

        for port in (80, 443) if https else (80,):
            for family, cidr in (("ipv4", "0.0.0.0/0"), ("ipv6", "::/0")):
                tcp_rule(
                    "in", f"alb-{port}-{family}", self.alb_security_group, port,
                    f"port {port} from the internet", **{f"cidr_{family}": cidr},
                )  # fmt: skip
        tcp_rule(
            "out", "alb-to-targets", self.alb_security_group, args.agent_port, "the agent port on the targets",
            referenced_security_group_id=self.target_security_group.id,
        )  # fmt: skip
        tcp_rule(
            "in", "targets-from-alb", self.target_security_group, args.agent_port, "the agent port from the ALB",
            referenced_security_group_id=self.alb_security_group.id,
        )  # fmt: skip
        # Targets reach apt mirrors and the SSM endpoints over HTTPS (and HTTP for Debian's mirrors).
        for port in (80, 443):
            tcp_rule(
                "out", f"targets-out-{port}", self.target_security_group, port, f"outbound {port}",
                cidr_ipv4="0.0.0.0/0",
            )  # fmt: skip

        logs = self._access_log_bucket(name, args, child)

        self.alb = aws.lb.LoadBalancer(
            name,
            name=naming.load_balancer_name(args.env, args.region),
            load_balancer_type="application",
            internal=False,
            subnets=args.public_subnet_ids,
            security_groups=[self.alb_security_group.id],
            drop_invalid_header_fields=True,
            access_logs={"bucket": logs.bucket, "enabled": True, "prefix": name},
            tags=tag("alb"),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self._log_policy])),
        )
        self.target_groups = {
            group: aws.lb.TargetGroup(
                f"{name}-{group}",
                name=naming.target_group_name(args.env, args.region, group),
                port=args.agent_port,
                protocol="HTTP",
                target_type="instance",
                vpc_id=args.vpc_id,
                deregistration_delay=30,
                health_check={
                    "path": "/healthz",
                    "matcher": "200",
                    "interval": 10,
                    "timeout": 5,
                    "healthy_threshold": 2,
                    "unhealthy_threshold": 2,
                },
                tags=tag(group, **{"perfgate:group": group}),
                opts=child,
            )
            for group in GROUPS
        }
        forward = {
            "type": "forward",
            "forward": {
                "target_groups": [{"arn": self.target_groups[g].arn, "weight": args.weights[g]} for g in GROUPS],
                "stickiness": {"enabled": False, "duration": 1},
            },
        }
        weighted = pulumi.ResourceOptions.merge(
            child,
            pulumi.ResourceOptions(ignore_changes=GATE_OWNED_WEIGHT_PATHS if args.gate_owns_weights else None),
        )
        if https:
            self.listener = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=self.alb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=[forward],
                tags=tag("https"),
                opts=weighted,
            )
            aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}
                ],
                tags=tag("http-redirect"),
                opts=child,
            )
        else:
            self.listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[forward],
                tags=tag("http"),
                opts=weighted,
            )

        self.register_outputs(
            {
                "listener_arn": self.listener.arn,
                "dns_name": self.alb.dns_name,
                "target_group_arns": {g: tg.arn for g, tg in self.target_groups.items()},
            }
        )

    def _access_log_bucket(self, name, args, child) -> aws.s3.Bucket:
        # Older regions deliver logs from a regional ELB account, newer ones from the log-delivery
        # service principal; granting both works everywhere.
        elb_account = aws.elb.get_service_account(opts=pulumi.InvokeOptions(provider=args.provider))

        def log_writers(arn: str) -> list[dict]:
            return [
                {
                    "Sid": "ElbAccountWrites",
                    "Effect": "Allow",
                    "Principal": {"AWS": elb_account.arn},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/{name}/*",
                },
                {
                    "Sid": "LogDeliveryWrites",
                    "Effect": "Allow",
                    "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/{name}/*",
                },
            ]

        bucket, self._log_policy = private_bucket(
            f"{name}-access-logs",
            expire_days=args.access_log_retention_days,
            tags=args.tags,
            opts=child,
            extra_statements=log_writers,
        )
        return bucket
