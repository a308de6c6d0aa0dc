"""The policy pack's validate functions, on hand-made resources, and the pack's wiring."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from infra.policy import rules
from infra.policy.rules import StackResource

SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
TAGS = {"env": "dev", "owner": "o", "project": "perfgate", "cost-center": "c"}


@pytest.mark.parametrize(
    ("resource_type", "props", "violations"),
    [
        (INGRESS, {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}, 1),
        (INGRESS, {"ipProtocol": "tcp", "fromPort": 0, "toPort": 1024, "cidrIpv6": "::/0"}, 1),
        (INGRESS, {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"}, 1),
        (INGRESS, {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "10.0.0.0/8"}, 0),
        (INGRESS, {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}, 0),
        (INGRESS, {"ipProtocol": "udp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}, 0),
        (SG, {"ingress": [{"protocol": "tcp", "fromPort": 20, "toPort": 23, "cidrBlocks": ["0.0.0.0/0"]}]}, 1),
        (SG, {"ingress": [{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["0.0.0.0/0"]}]}, 0),
    ],
)
def test_no_ssh_from_internet(resource_type, props, violations):
    assert len(rules.no_ssh_from_internet(resource_type, props)) == violations


def test_required_tags():
    assert rules.required_tags("aws:ec2/vpc:Vpc", {"tags": TAGS}) == []
    assert rules.required_tags("aws:ec2/vpc:Vpc", {"tags": {"env": "dev"}}) == [
        "missing tag(s) owner, project, cost-center"
    ]
    assert rules.required_tags("aws:ec2/vpc:Vpc", {}) != []
    asg_tags = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in TAGS.items()]
    assert rules.required_tags("aws:autoscaling/group:Group", {"tags": asg_tags}) == []
    assert rules.required_tags("aws:autoscaling/group:Group", {"tags": asg_tags[:2]}) != []
    assert rules.required_tags("aws:ec2/route:Route", {}) == []


def test_imdsv2_and_ebs_encryption():
    good = {
        "metadataOptions": {"httpTokens": "required"},
        "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}],
    }
    assert rules.imdsv2_required(TEMPLATE, good) == [] and rules.ebs_encrypted(TEMPLATE, good) == []
    assert rules.imdsv2_required(TEMPLATE, {"metadataOptions": {"httpTokens": "optional"}}) != []
    assert rules.imdsv2_required(TEMPLATE, {}) != []
    assert rules.ebs_encrypted(TEMPLATE, {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {}}]}) == [
        "volume /dev/xvda is not encrypted"
    ]
    assert rules.ebs_encrypted(TEMPLATE, {}) != []
    assert rules.ebs_encrypted("aws:ebs/volume:Volume", {"encrypted": False}) != []


def test_listener_weights():
    def listener(*weights):
        groups = [{"arn": f"tg{i}", "weight": w} for i, w in enumerate(weights)]
        return {"defaultActions": [{"type": "forward", "forward": {"targetGroups": groups}}]}

    assert rules.listener_weights_sum_to_100("aws:lb/listener:Listener", listener(90, 10)) == []
    assert rules.listener_weights_sum_to_100("aws:lb/listener:Listener", listener(90, 20)) == [
        "forward weights sum to 110, not 100"
    ]
    redirect = {"defaultActions": [{"type": "redirect", "redirect": {"port": "443"}}]}
    assert rules.listener_weights_sum_to_100("aws:lb/listener:Listener", redirect) == []


def test_every_vpc_has_a_flow_log_by_dependency_or_id():
    vpc = StackResource("aws:ec2/vpc:Vpc", "main", {"id": "vpc-1"}, urn="urn:vpc")
    other = StackResource("aws:ec2/vpc:Vpc", "other", {"id": "vpc-2"}, urn="urn:vpc2")
    by_id = StackResource("aws:ec2/flowLog:FlowLog", "log", {"vpcId": "vpc-1"})
    by_dependency = StackResource("aws:ec2/flowLog:FlowLog", "log2", {}, dependencies={"vpcId": ["urn:vpc2"]})
    assert rules.every_vpc_has_flow_log([vpc, other, by_id, by_dependency]) == []
    assert rules.every_vpc_has_flow_log([vpc, other, by_id]) == ["VPC other has no flow log"]


def test_every_target_group_needs_all_three_alarm_kinds():
    group = StackResource("aws:lb/targetGroup:TargetGroup", "canary", {"arnSuffix": "targetgroup/c/1"})
    dims = {"TargetGroup": "targetgroup/c/1", "LoadBalancer": "app/x/1"}
    latency = StackResource(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "lat", {"metricName": "TargetResponseTime", "dimensions": dims}
    )
    unhealthy = StackResource(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "unh", {"metricName": "UnHealthyHostCount", "dimensions": dims}
    )
    errors = StackResource(
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "err",
        {"metricQueries": [{"id": "e", "metric": {"metricName": "HTTPCode_Target_5XX_Count", "dimensions": dims}}]},
    )
    assert rules.every_target_group_alarmed([group, latency, unhealthy, errors]) == []
    assert rules.every_target_group_alarmed([group, latency, unhealthy]) == ["target group canary has no errors alarm"]


def test_the_pack_registers_every_rule_as_a_mandatory_policy(monkeypatch):
    import pulumi_policy

    created = {}

    def fake_pack(name, enforcement_level, policies):
        created.update(name=name, level=enforcement_level, policies=policies)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", fake_pack)
    runpy.run_path(str(Path(__file__).resolve().parents[2] / "infra/policy/__main__.py"), run_name="__main__")
    assert created["level"] == pulumi_policy.EnforcementLevel.MANDATORY
    names = [p.name for p in created["policies"]]
    assert names == [*rules.RESOURCE_RULES, *rules.STACK_RULES]
    # The wrapped resource policy reports what the rule finds.
    ssh = created["policies"][names.index("no-ssh-from-internet")]
    reported = []
    args = SimpleNamespace(
        resource_type=INGRESS, props={"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0"}
    )
    ssh.validate(args, reported.append)
    assert reported and "port 22" in reported[0]
    # And the stack policy turns property dependencies into URNs.
    flow = created["policies"][names.index("vpc-flow-logs")]
    vpc = SimpleNamespace(resource_type="aws:ec2/vpc:Vpc", name="v", props={}, urn="urn:v", property_dependencies={})
    reported.clear()
    flow.validate(SimpleNamespace(resources=[vpc]), reported.append)
    assert reported == ["VPC v has no flow log"]


def test_required_tags_skips_what_the_analyzer_sees_but_cannot_tag():
    # The analyzer hands the pack every ComponentResource (with no props) and the providers.
    assert rules.required_tags("perfgate:traffic:CanaryLoadBalancer", {}) == []
    assert rules.required_tags("pulumi:providers:aws", {}) == []
    assert rules.required_tags("aws:sns/topicSubscription:TopicSubscription", {}) == []


def test_alarm_topics_must_not_use_the_aws_managed_key():
    topic = "aws:sns/topic:Topic"
    assert rules.alarm_topics_accept_cloudwatch(topic, {"kmsMasterKeyId": "alias/aws/sns"}) != []
    assert rules.alarm_topics_accept_cloudwatch(topic, {"kmsMasterKeyId": "arn:aws:kms:eu-west-1:1:key/k"}) == []


def test_prod_listeners_serve_https_or_redirect_to_it():
    listener, prod = "aws:lb/listener:Listener", {"env": "prod"}
    forward = {"defaultActions": [{"type": "forward"}], "tags": prod}
    assert rules.prod_listeners_are_https(listener, {**forward, "protocol": "HTTPS", "port": 443}) == []
    assert rules.prod_listeners_are_https(listener, {**forward, "protocol": "HTTP", "port": 80}) == [
        "a prod listener on port 80 serves HTTP; serve HTTPS or redirect"
    ]
    redirect = {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}}
    assert (
        rules.prod_listeners_are_https(listener, {"protocol": "HTTP", "defaultActions": [redirect], "tags": prod}) == []
    )
    to_http = {"type": "redirect", "redirect": {"protocol": "HTTP", "port": "8080"}}
    assert (
        rules.prod_listeners_are_https(listener, {"protocol": "HTTP", "defaultActions": [to_http], "tags": prod}) != []
    )
    assert rules.prod_listeners_are_https(listener, {**forward, "protocol": "HTTP", "tags": {"env": "dev"}}) == []


def test_every_alarm_topic_needs_a_subscription():
    topic = StackResource("aws:sns/topic:Topic", "alarms", {"arn": "arn:topic"}, urn="urn:topic")
    by_arn = StackResource("aws:sns/topicSubscription:TopicSubscription", "s1", {"topic": "arn:topic"})
    by_dependency = StackResource(
        "aws:sns/topicSubscription:TopicSubscription", "s2", {}, dependencies={"topic": ["urn:topic"]}
    )
    assert rules.every_alarm_topic_has_a_subscription([topic, by_arn]) == []
    assert rules.every_alarm_topic_has_a_subscription([topic, by_dependency]) == []
    assert rules.every_alarm_topic_has_a_subscription([topic]) == [
        "SNS topic alarms has no subscription; set perfgate:alarm_subscriptions"
    ]
