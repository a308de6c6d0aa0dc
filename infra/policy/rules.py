"""perfgate's infrastructure rules as plain functions, shared by the CrossGuard pack (__main__.py)
and the unit tests, which run them on the program's mocked resources.

Each resource rule takes (resource_type, props) and returns a list of violation messages; each
stack rule takes the stack's resources. Props use Pulumi's property names (camelCase).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED_TAGS = ("env", "owner", "project", "cost-center")
# Types that carry no tags of their own (associations, routes, policies, S3 sub-resources...).
UNTAGGABLE_TYPES = frozenset(
    {
        "aws:ec2/route:Route",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2transitgateway/route:Route",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:cloudwatch/dashboard:Dashboard",
        "aws:route53/record:Record",
        "aws:kms/alias:Alias",
        "aws:sns/topicSubscription:TopicSubscription",
        "aws:acm/certificateValidation:CertificateValidation",
    }
)
SSH_PORT = 22
WORLD = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
ALARM_KINDS = {
    "HTTPCode_Target_5XX_Count": "errors",
    "TargetResponseTime": "latency",
    "UnHealthyHostCount": "unhealthy",
}


@dataclass
class StackResource:
    """The part of a policy resource the stack rules use."""

    resource_type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    dependencies: Mapping[str, list[str]] | None = None  # property -> URNs it depends on


def _is_world(cidr: str | None) -> bool:
    return bool(cidr) and ipaddress.ip_network(cidr, strict=False) in WORLD


def _covers_ssh(protocol: Any, from_port: Any, to_port: Any) -> bool:
    if str(protocol) in ("-1", "all"):
        return True
    if str(protocol) not in ("tcp", "6"):
        return False
    return from_port is not None and to_port is not None and float(from_port) <= SSH_PORT <= float(to_port)


def no_ssh_from_internet(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No security group rule opens port 22 to 0.0.0.0/0 or ::/0 (hosts are managed through SSM)."""
    rules: list[tuple[Any, Any, Any, list[str]]] = []
    if resource_type == "aws:ec2/securityGroup:SecurityGroup":
        for rule in props.get("ingress") or []:
            cidrs = [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]
            rules.append((rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"), cidrs))
    elif resource_type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        cidrs = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if c]
        rules.append((props.get("ipProtocol"), props.get("fromPort"), props.get("toPort"), cidrs))
    elif resource_type == "aws:ec2/securityGroupRule:SecurityGroupRule" and props.get("type") == "ingress":
        cidrs = [*(props.get("cidrBlocks") or []), *(props.get("ipv6CidrBlocks") or [])]
        rules.append((props.get("protocol"), props.get("fromPort"), props.get("toPort"), cidrs))
    return [
        f"port 22 is open to {cidr}; reach hosts through SSM Session Manager instead"
        for protocol, low, high, cidrs in rules
        if _covers_ssh(protocol, low, high)
        for cidr in cidrs
        if _is_world(cidr)
    ]


def required_tags(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every taggable AWS resource carries env, owner, project and cost-center."""
    # The analyzer also sees providers and the program's own ComponentResources (perfgate:*),
    # which exist only in Pulumi's state and have nothing to tag.
    if resource_type in UNTAGGABLE_TYPES or not resource_type.startswith("aws:"):
        return []
    tags = props.get("tags")
    if resource_type == "aws:autoscaling/group:Group":
        tags = {t.get("key"): t.get("value") for t in tags or []}
    missing = [t for t in REQUIRED_TAGS if not (tags or {}).get(t)]
    return [f"missing tag(s) {', '.join(missing)}"] if missing else []


def imdsv2_required(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Launch templates and instances require IMDSv2 session tokens."""
    if resource_type not in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"):
        return []
    tokens = (props.get("metadataOptions") or {}).get("httpTokens")
    return [] if tokens == "required" else [f"metadataOptions.httpTokens is {tokens!r}; IMDSv2 needs 'required'"]


def ebs_encrypted(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Every EBS volume is encrypted."""
    if resource_type == "aws:ec2/launchTemplate:LaunchTemplate":
        mappings = props.get("blockDeviceMappings") or []
        if not mappings:
            return ["no block device mappings: the AMI's default root volume may be unencrypted"]
        return [
            f"volume {m.get('deviceName')} is not encrypted"
            for m in mappings
            if str((m.get("ebs") or {}).get("encrypted")).lower() != "true"
        ]
    if resource_type == "aws:ebs/volume:Volume" and not props.get("encrypted"):
        return ["EBS volume is not encrypted"]
    return []


def listener_weights_sum_to_100(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """A weighted forward's target-group weights add up to 100."""
    if resource_type not in ("aws:lb/listener:Listener", "aws:lb/listenerRule:ListenerRule"):
        return []
    actions = props.get("defaultActions") or props.get("actions") or []
    messages = []
    for action in actions:
        groups = (action.get("forward") or {}).get("targetGroups") or []
        if groups:
            total = sum(float(g.get("weight") or 0) for g in groups)
            if total != 100:
                messages.append(f"forward weights sum to {total:g}, not 100")
    return messages


# SNS's AWS-managed key: its policy cannot be changed to let CloudWatch use it, so alarms
# published to a topic encrypted with it are dropped.
AWS_MANAGED_SNS_KEY = "alias/aws/sns"


def alarm_topics_accept_cloudwatch(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """SNS topics are not encrypted with the AWS-managed key, which CloudWatch cannot publish with."""
    if resource_type != "aws:sns/topic:Topic" or props.get("kmsMasterKeyId") != AWS_MANAGED_SNS_KEY:
        return []
    return [f"the topic is encrypted with {AWS_MANAGED_SNS_KEY}; use a customer-managed key CloudWatch may use"]


def prod_listeners_are_https(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """In prod (tag env=prod), a load balancer listener either serves HTTPS or redirects to it."""
    if resource_type != "aws:lb/listener:Listener" or (props.get("tags") or {}).get("env") != "prod":
        return []
    if props.get("protocol") == "HTTPS":
        return []
    actions = props.get("defaultActions") or []
    redirects = [a for a in actions if a.get("type") == "redirect"]
    if (
        actions
        and len(redirects) == len(actions)
        and all((a.get("redirect") or {}).get("protocol") == "HTTPS" for a in redirects)
    ):
        return []
    return [f"a prod listener on port {props.get('port')} serves {props.get('protocol')}; serve HTTPS or redirect"]


RESOURCE_RULES: dict[str, Callable[[str, Mapping[str, Any]], list[str]]] = {
    "no-ssh-from-internet": no_ssh_from_internet,
    "required-tags": required_tags,
    "imdsv2-required": imdsv2_required,
    "ebs-encrypted": ebs_encrypted,
    "listener-weights-sum-to-100": listener_weights_sum_to_100,
    "alarm-topics-accept-cloudwatch": alarm_topics_accept_cloudwatch,
    "prod-listeners-are-https": prod_listeners_are_https,
}


def _refers_to(resource: StackResource, prop: str, target: StackResource) -> bool:
    if target.urn and target.urn in (resource.dependencies or {}).get(prop, []):
        return True
    return target.props.get("id") is not None and resource.props.get(prop) == target.props.get("id")


def every_vpc_has_flow_log(resources: Iterable[StackResource]) -> list[str]:
    resources = list(resources)
    logs = [r for r in resources if r.resource_type == "aws:ec2/flowLog:FlowLog"]
    return [
        f"VPC {vpc.name} has no flow log"
        for vpc in resources
        if vpc.resource_type == "aws:ec2/vpc:Vpc" and not any(_refers_to(log, "vpcId", vpc) for log in logs)
    ]


def alarm_kinds_by_target_group(resources: Iterable[StackResource]) -> dict[str, set[str]]:
    """Target group arn suffix -> the alarm kinds (errors, latency, unhealthy) watching it."""
    kinds: dict[str, set[str]] = {}
    for alarm in resources:
        if alarm.resource_type != "aws:cloudwatch/metricAlarm:MetricAlarm":
            continue
        metrics = [(alarm.props.get("metricName"), alarm.props.get("dimensions") or {})]
        metrics += [
            ((q.get("metric") or {}).get("metricName"), (q.get("metric") or {}).get("dimensions") or {})
            for q in alarm.props.get("metricQueries") or []
        ]
        for metric, dimensions in metrics:
            if metric in ALARM_KINDS and dimensions.get("TargetGroup"):
                kinds.setdefault(dimensions["TargetGroup"], set()).add(ALARM_KINDS[metric])
    return kinds


def every_target_group_alarmed(resources: Iterable[StackResource]) -> list[str]:
    resources = list(resources)
    kinds = alarm_kinds_by_target_group(resources)
    messages = []
    for group in resources:
        if group.resource_type != "aws:lb/targetGroup:TargetGroup":
            continue
        missing = set(ALARM_KINDS.values()) - kinds.get(group.props.get("arnSuffix"), set())
        if missing:
            messages.append(f"target group {group.name} has no {', '.join(sorted(missing))} alarm")
    return messages


def every_alarm_topic_has_a_subscription(resources: Iterable[StackResource]) -> list[str]:
    """An alarm topic nobody subscribes to pages nobody."""
    resources = list(resources)
    subscriptions = [r for r in resources if r.resource_type == "aws:sns/topicSubscription:TopicSubscription"]

    def subscribed(topic: StackResource) -> bool:
        for subscription in subscriptions:
            if topic.urn and topic.urn in (subscription.dependencies or {}).get("topic", []):
                return True
            if topic.props.get("arn") is not None and subscription.props.get("topic") == topic.props.get("arn"):
                return True
        return False

    return [
        f"SNS topic {topic.name} has no subscription; set perfgate:alarm_subscriptions"
        for topic in resources
        if topic.resource_type == "aws:sns/topic:Topic" and not subscribed(topic)
    ]


STACK_RULES: dict[str, Callable[[Iterable[StackResource]], list[str]]] = {
    "vpc-flow-logs": every_vpc_has_flow_log,
    "target-group-alarms": every_target_group_alarmed,
    "alarm-topic-subscriptions": every_alarm_topic_has_a_subscription,
}
