"""What the AWS and Kubernetes providers refuse, for the mocks in pulumi_program.py.

Mocks that echo inputs back accept anything, so a program can pass its own tests and still fail
at the first `pulumi preview`. These rules are the providers' and the APIs' own, written down
from their documentation (not from infra/), for every resource type the program declares:

- auto-naming: a resource without an explicit name is named "<resource name>-<7 random hex>"
  by the bridge, which refuses the result when it exceeds the API's limit ("... plus 7 random
  chars is longer than maximum length 32"); explicit names are held to the same limit;
- nested properties the API requires (the SDK checks only top-level ones);
- Kubernetes custom resources are sent as written (the SDK camel-cases only built-in kinds), so
  a snake_case field is pruned by the CRD's structural schema;
- invokes have to be answered by the mocks, as by the cloud; a lookup the mocks do not know is
  an error, not an invented answer.

A type missing from NAMING is an error too: adding a resource type means looking up its rule.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


class ProviderRefusal(Exception):
    """What `pulumi preview` or the API would have answered."""


@dataclass(frozen=True)
class NameRule:
    prop: str | None  # the property the provider auto-names, None when the type has no name
    limit: int = 0
    pattern: str = ""  # the characters the API accepts, as a regex over the whole name
    lowercase: bool = False  # the bridge lowercases the auto-name (S3 buckets)


ALB_NAME = r"(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"  # ELB API: alphanumerics and hyphens
NO_NAME = NameRule(None)
# Limits from the AWS API references (CreateLoadBalancer, CreateTargetGroup, CreateRole, ...), as
# the pulumi-aws bridge applies them when it auto-names.
NAMING: dict[str, NameRule] = {
    "aws:lb/loadBalancer:LoadBalancer": NameRule("name", 32, ALB_NAME),
    "aws:lb/targetGroup:TargetGroup": NameRule("name", 32, ALB_NAME),
    "aws:iam/role:Role": NameRule("name", 64, r"[\w+=,.@-]+"),
    "aws:iam/instanceProfile:InstanceProfile": NameRule("name", 128, r"[\w+=,.@-]+"),
    "aws:iam/rolePolicy:RolePolicy": NameRule("name", 128, r"[\w+=,.@-]+"),
    "aws:iam/policy:Policy": NameRule("name", 128, r"[\w+=,.@-]+"),
    "aws:s3/bucket:Bucket": NameRule("bucket", 63, r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", lowercase=True),
    "aws:sns/topic:Topic": NameRule("name", 256, r"[A-Za-z0-9_-]+"),
    "aws:ec2/securityGroup:SecurityGroup": NameRule("name", 255),
    "aws:ec2/launchTemplate:LaunchTemplate": NameRule("name", 128, r"[A-Za-z0-9().\-/_]+"),
    "aws:autoscaling/group:Group": NameRule("name", 255),
    "aws:autoscaling/lifecycleHook:LifecycleHook": NameRule("name", 255),
    "aws:cloudwatch/metricAlarm:MetricAlarm": NameRule("name", 255),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": NameRule("alarmName", 255),
    "aws:cloudwatch/dashboard:Dashboard": NameRule("dashboardName", 255, r"[A-Za-z0-9_-]+"),
    "aws:cloudwatch/logGroup:LogGroup": NameRule("name", 512, r"[\w/#.-]+"),
    "aws:kms/alias:Alias": NameRule("name", 256, r"alias/[A-Za-z0-9/_-]+"),
    **{
        t: NO_NAME
        for t in (
            "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
            "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
            "aws:ec2/route:Route", "aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl",
            "aws:ec2/networkAcl:NetworkAcl", "aws:ec2/flowLog:FlowLog", "aws:ec2/vpcEndpoint:VpcEndpoint",
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
            "aws:ec2transitgateway/transitGateway:TransitGateway",
            "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
            "aws:ec2transitgateway/peeringAttachment:PeeringAttachment",
            "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter",
            "aws:ec2transitgateway/route:Route", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:lb/listener:Listener",
            "aws:route53/healthCheck:HealthCheck", "aws:route53/record:Record",
            "aws:sns/topicSubscription:TopicSubscription",
            "aws:kms/key:Key", "aws:acm/certificate:Certificate", "aws:acm/certificateValidation:CertificateValidation",
            "aws:amp/workspace:Workspace", "pulumi:providers:aws", "pulumi:providers:kubernetes",
        )
    },
}  # fmt: skip

# Nested properties the APIs require, as paths in Pulumi's (camelCase) property names; "[]"
# means every element of a list. The SDK raises for missing top-level arguments itself.
REQUIRED: dict[str, tuple[str, ...]] = {
    "aws:lb/listener:Listener": ("loadBalancerArn", "defaultActions[].type"),
    "aws:lb/targetGroup:TargetGroup": ("port", "protocol", "vpcId"),  # for target_type instance
    "aws:autoscaling/group:Group": ("maxSize", "minSize", "tags[].key", "tags[].value", "tags[].propagateAtLaunch"),
    "aws:autoscaling/lifecycleHook:LifecycleHook": ("autoscalingGroupName", "lifecycleTransition"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("comparisonOperator", "evaluationPeriods", "metricQueries[].id"),
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ("alarmName", "alarmRule"),
    "aws:route53/record:Record": (
        "zoneId", "name", "type", "aliases[].name", "aliases[].zoneId", "aliases[].evaluateTargetHealth",
    ),
    "aws:sns/topicSubscription:TopicSubscription": ("topic", "protocol", "endpoint"),
    "aws:acm/certificate:Certificate": ("domainName", "validationMethod"),
    "aws:acm/certificateValidation:CertificateValidation": ("certificateArn",),
    "aws:kms/alias:Alias": ("name", "targetKeyId"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("bucket", "rules[].id", "rules[].status"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("blockDeviceMappings[].deviceName",),
}  # fmt: skip

# Kubernetes API groups whose kinds the SDK knows (and so camel-cases); any other group is a
# custom resource and is sent exactly as written.
BUILT_IN_GROUPS = {"core", "apps", "autoscaling", "policy", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"}
# Maps whose keys are data (label and annotation keys), not API field names.
FREE_FORM = {"labels", "annotations", "matchLabels", "nodeSelector", "data", "stringData", "values"}
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")


def auto_name(urn_name: str, urn: str) -> str:
    """The bridge's "<name>-<7 hex>", with the hex taken from the URN so runs are reproducible."""
    return f"{urn_name}-{hashlib.sha256(urn.encode()).hexdigest()[:7]}"


def physical_name(type_token: str, name: str, inputs: dict) -> tuple[str | None, str | None]:
    """The (property, physical name) the provider would create, or a ProviderRefusal."""
    rule = NAMING.get(type_token)
    if rule is None:
        raise ProviderRefusal(f"no naming rule is recorded for {type_token}; look it up and add it to NAMING")
    if rule.prop is None:
        return None, None
    explicit = inputs.get(rule.prop)
    prefix = inputs.get("namePrefix")
    if explicit:
        value = explicit
    elif prefix:
        value = prefix + "0" * 26  # the provider appends a 26-character unique id
    else:
        value = auto_name(name, type_token + "::" + name)
        if len(value) > rule.limit:
            raise ProviderRefusal(
                f"{type_token} {name}: name '{name}-' plus 7 random chars is longer than maximum length {rule.limit}"
            )
        value = value.lower() if rule.lowercase else value
    if len(value) > rule.limit:
        raise ProviderRefusal(f"{type_token} {name}: {rule.prop} {value!r} is longer than {rule.limit} characters")
    if rule.pattern and not re.fullmatch(rule.pattern, value):
        raise ProviderRefusal(f"{type_token} {name}: {rule.prop} {value!r} has characters the API refuses")
    return rule.prop, value


def _values_at(document, path: list[str]):
    """Every value at `path` ("a", "b[]", "c"), or a marker for each place it is missing. A list
    segment ("b[]") checks the list's elements when the list is there."""
    if not path:
        yield document
        return
    head, rest = path[0], path[1:]
    is_list = head.endswith("[]")
    key = head[:-2] if is_list else head
    if not isinstance(document, dict) or document.get(key) in (None, "", []):
        if not is_list:  # an absent optional list has no elements to check
            yield _MISSING
        return
    value = document[key]
    for item in value if is_list else [value]:
        yield from _values_at(item, rest)


_MISSING = object()


def missing_required(type_token: str, inputs: dict) -> list[str]:
    missing = []
    for path in REQUIRED.get(type_token, ()):
        if any(v is _MISSING for v in _values_at(inputs, path.split("."))):
            missing.append(path)
    return missing


def snake_case_fields(document, where: str = "spec") -> list[str]:
    """Paths of snake_case field names in a custom resource's body."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            if SNAKE_CASE.match(str(key)):
                found.append(f"{where}.{key}")
            if key not in FREE_FORM:
                found += snake_case_fields(value, f"{where}.{key}")
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += snake_case_fields(item, f"{where}[{index}]")
    return found


def kubernetes_group(type_token: str) -> str:
    """kubernetes:monitoring.coreos.com/v1:ServiceMonitor -> monitoring.coreos.com."""
    return type_token.split(":")[1].split("/")[0]


# Names unique per account rather than per region.
GLOBAL_NAMESPACES = ("aws:iam/", "aws:s3/bucket:")


class Account:
    """What one AWS account already holds during a run: a second resource with the same physical
    name (per region, or account-wide for IAM and S3), or a second Route 53 record with the same
    name, type and set identifier without allow_overwrite, is refused as the API refuses it."""

    def __init__(self):
        self.names: dict[tuple, str] = {}
        self.records: dict[tuple, str] = {}

    def claim_name(self, type_token: str, region: str | None, value: str, name: str) -> None:
        scope = None if type_token.startswith(GLOBAL_NAMESPACES) else region
        key = (type_token, scope, value)
        if key in self.names:
            raise ProviderRefusal(f"{type_token} {name}: {value!r} already exists (created for {self.names[key]})")
        self.names[key] = name

    def claim_record(self, inputs: dict, name: str) -> None:
        key = (
            inputs.get("zoneId"),
            str(inputs.get("name")).rstrip("."),
            inputs.get("type"),
            inputs.get("setIdentifier"),
        )
        if key in self.records and not inputs.get("allowOverwrite"):
            raise ProviderRefusal(
                f"aws:route53/record:Record {name}: record {key[1]} {key[2]} already exists "
                f"(created for {self.records[key]}); Route 53 refuses it without allow_overwrite"
            )
        self.records[key] = name


def check(type_token: str, name: str, inputs: dict) -> dict:
    """Refuses what the provider would refuse; returns the computed name property, if any."""
    if type_token.startswith("kubernetes:"):
        group = kubernetes_group(type_token)
        if group not in BUILT_IN_GROUPS and group != "helm.sh":
            fields = snake_case_fields(inputs.get("spec"))
            if fields:
                raise ProviderRefusal(
                    f"{type_token} {name}: custom resources are not camel-cased by the SDK; "
                    f"the API server prunes {', '.join(fields)}"
                )
        return {}
    missing = missing_required(type_token, inputs)
    if missing:
        raise ProviderRefusal(f"{type_token} {name}: missing required property {', '.join(missing)}")
    prop, value = physical_name(type_token, name, inputs)
    return {prop: value} if prop else {}
