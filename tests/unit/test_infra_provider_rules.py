"""The bugs a real `pulumi preview` / `pulumi up` would have hit, each with a test that fails on
the code before the fix, under mocks that apply the providers' rules (pulumi_provider_rules.py)."""

from __future__ import annotations

import base64
import json

import pulumi_provider_rules as provider_rules
import pytest
from pulumi_program import ProgramRun, run_program, stack_config

from infra import config as infra_config
from infra.policy import rules

AWS_STACKS = ("dev", "staging", "prod")
STACKS = (*AWS_STACKS, "k8s")
_runs: dict[str, ProgramRun] = {}


def program(stack: str) -> ProgramRun:
    if stack not in _runs:
        _runs[stack] = run_program(stack)
    return _runs[stack]


# -- the rules themselves refuse what the providers refuse ------------------------------------


def test_auto_naming_refuses_what_the_aws_provider_refuses():
    group = "aws:lb/targetGroup:TargetGroup"
    message = "name 'perfgate-staging-eu-west-1-canary-' plus 7 random chars is longer than maximum length 32"
    with pytest.raises(provider_rules.ProviderRefusal, match=message):
        provider_rules.check(
            group, "perfgate-staging-eu-west-1-canary", {"port": 8080, "protocol": "HTTP", "vpcId": "v"}
        )
    named = provider_rules.check(group, "tg", {"port": 8080, "protocol": "HTTP", "vpcId": "v"})
    assert named["name"].startswith("tg-") and len(named["name"]) == len("tg-") + 7
    with pytest.raises(provider_rules.ProviderRefusal, match="longer than 32"):
        provider_rules.check(group, "tg", {"name": "x" * 33, "port": 1, "protocol": "HTTP", "vpcId": "v"})
    with pytest.raises(provider_rules.ProviderRefusal, match="characters the API refuses"):
        provider_rules.check("aws:lb/loadBalancer:LoadBalancer", "alb", {"name": "internal-web"})
    assert provider_rules.check("aws:s3/bucket:Bucket", "Logs", {})["bucket"].startswith("logs-")
    with pytest.raises(provider_rules.ProviderRefusal, match="no naming rule is recorded"):
        provider_rules.check("aws:rds/instance:Instance", "db", {})


def test_nested_required_properties_and_camel_case_custom_resources_are_enforced():
    with pytest.raises(provider_rules.ProviderRefusal, match=r"defaultActions\[\]\.type"):
        provider_rules.check("aws:lb/listener:Listener", "l", {"loadBalancerArn": "a", "defaultActions": [{}]})
    assert provider_rules.check(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "a", {"comparisonOperator": "x", "evaluationPeriods": 1}
    )
    with pytest.raises(provider_rules.ProviderRefusal, match=r"the API server prunes spec\.selector\.match_labels"):
        provider_rules.check(
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "sm", {"spec": {"selector": {"match_labels": {}}}}
        )
    # Label keys are data, not fields; built-in kinds are camel-cased by the SDK.
    assert (
        provider_rules.check(
            "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
            "sm",
            {"spec": {"selector": {"matchLabels": {"my_label": "x"}}}},
        )
        == {}
    )


def test_the_account_refuses_duplicate_names_and_records():
    account = provider_rules.Account()
    account.claim_name("aws:lb/targetGroup:TargetGroup", "eu-west-1", "tg", "first")
    account.claim_name("aws:lb/targetGroup:TargetGroup", "us-east-1", "tg", "other-region")
    with pytest.raises(provider_rules.ProviderRefusal, match="already exists"):
        account.claim_name("aws:lb/targetGroup:TargetGroup", "eu-west-1", "tg", "second")
    account.claim_name("aws:iam/role:Role", "eu-west-1", "role", "first")
    with pytest.raises(provider_rules.ProviderRefusal, match="already exists"):
        account.claim_name("aws:iam/role:Role", "us-east-1", "role", "second")  # IAM is account-wide
    record = {"zoneId": "Z1", "name": "_x.example.com.", "type": "CNAME"}
    account.claim_record(record, "first")
    account.claim_record({**record, "allowOverwrite": True}, "adopts")
    with pytest.raises(provider_rules.ProviderRefusal, match="without allow_overwrite"):
        account.claim_record(record, "third")


# -- every stack runs under them (bugs 1, 2, 4) ----------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_runs_under_the_providers_rules(stack):
    """Bug 1 (target groups and ALBs over 32 characters), bug 2 (a hosted-zone lookup at load
    time) and bug 4 (a snake_case ServiceMonitor selector) each made this run fail."""
    run = program(stack)
    assert run.refusals == []
    allowed = {
        "aws:index/getAvailabilityZones:getAvailabilityZones",
        "aws:elb/getServiceAccount:getServiceAccount",
        "aws:index/getCallerIdentity:getCallerIdentity",
    }
    assert set(run.invokes) <= allowed


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_load_balancer_names_fit_and_are_unique_per_region(stack):
    run = program(stack)
    for type_token in ("aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup"):
        names = [(r.region, r.state["name"]) for r in run.of_type(type_token)]
        assert all(len(name) <= 32 for _, name in names)
        assert len(set(names)) == len(names)


def test_an_env_too_long_for_the_names_is_a_config_error():
    config = stack_config("prod")
    raw = {**config, "env": "production-eu", "tags": {**config["tags"], "env": "production-eu"}}
    with pytest.raises(infra_config.ConfigError, match="must be 1 to 10 lowercase letters"):
        infra_config.load(raw, "prod")


def test_the_global_entry_uses_the_configured_zone_without_a_lookup():
    run = program("prod")
    zone = stack_config("prod")["hosted_zone_id"]
    records = run.of_type("aws:route53/record:Record")
    assert records and {r.inputs["zoneId"] for r in records} == {zone}
    assert "aws:route53/getZone:getZone" not in run.invokes
    config = stack_config("prod")
    del config["hosted_zone_id"]
    with pytest.raises(infra_config.ConfigError, match="domain and perfgate:hosted_zone_id go together"):
        infra_config.load(config, "prod")


# -- bug 3: alarms that can notify ---------------------------------------------------------------


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_alarm_topics_use_a_key_cloudwatch_may_use_and_have_subscribers(stack):
    run = program(stack)
    keys = {r.state["arn"]: r for r in run.of_type("aws:kms/key:Key")}
    topics = run.of_type("aws:sns/topic:Topic")
    assert len(topics) == len(stack_config(stack)["regions"])
    wanted = [(s["protocol"], s["endpoint"]) for s in stack_config(stack)["alarm_subscriptions"]]
    for topic in topics:
        key = keys[topic.inputs["kmsMasterKeyId"]]  # a customer-managed key, not alias/aws/sns
        assert key.region == topic.region and key.inputs["enableKeyRotation"] is True
        statements = json.loads(key.inputs["policy"])["Statement"]
        cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
        assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
        subscribed = [
            (s.inputs["protocol"], s.inputs["endpoint"])
            for s in run.of_type("aws:sns/topicSubscription:TopicSubscription")
            if s.inputs["topic"] == topic.state["arn"]
        ]
        assert subscribed == wanted


# -- bug 5: the HPA owns the replica count ------------------------------------------------------


def test_no_deployment_sets_the_replicas_its_hpa_owns():
    run = program("k8s")
    scaled = {
        r.inputs["spec"]["scaleTargetRef"]["name"]: r
        for r in run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    }
    deployments = run.of_type("kubernetes:apps/v1:Deployment")
    assert len(deployments) == 2
    settings = stack_config("k8s")["kubernetes"]
    for deployment in deployments:
        name = deployment.inputs["metadata"]["name"]
        assert name in scaled and "replicas" not in deployment.inputs["spec"], name
        group = name.rsplit("-", 1)[1]
        assert scaled[name].inputs["spec"]["minReplicas"] == settings[f"{group}_replicas"]


def test_the_service_monitor_selects_only_the_agents():
    monitor = program("k8s").of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")[0]
    assert monitor.inputs["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "perfgate-bench"}}


# -- bugs 6 and 7: hosts that live long enough to be configured, and a way in -------------------


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_new_hosts_are_not_cycled_before_site_yml_configures_them(stack):
    for group in program(stack).of_type("aws:autoscaling/group:Group"):
        assert group.inputs["healthCheckType"] == "EC2", group.name  # ELB would fail them until the agent runs


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_hosts_run_the_ssm_agent_and_aws_ssm_has_a_transfer_bucket(stack):
    run = program(stack)
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        user_data = base64.b64decode(template.inputs["userData"]).decode()
        assert f"amazon-ssm-{template.region}/latest/debian_amd64/amazon-ssm-agent.deb" in user_data
        assert "[systemctl, enable, --now, amazon-ssm-agent]" in user_data
    buckets = {r.region: r for r in run.of_type("aws:s3/bucket:Bucket") if r.name.endswith("-ssm")}
    assert set(buckets) == set(run.outputs["regions"])
    for region, output in run.outputs["regions"].items():
        assert output["ssm_bucket"] == buckets[region].state["bucket"]
        policies = [
            json.loads(p.inputs["policy"])
            for p in run.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.region == region and p.name.endswith("-instance")
        ]
        transfer = [s for s in policies[0]["Statement"] if s["Sid"] == "SsmFileTransfer"]
        assert transfer[0]["Resource"] == f"{buckets[region].state['arn']}/*"


# -- bug 9: prod serves HTTPS ---------------------------------------------------------------------


def test_prod_listeners_are_https_with_dns_validated_certificates():
    run = program("prod")
    validations = {
        r.state["certificateArn"]: r for r in run.of_type("aws:acm/certificateValidation:CertificateValidation")
    }
    for listener in run.of_type("aws:lb/listener:Listener"):
        assert rules.prod_listeners_are_https(listener.type, listener.inputs) == []
        if listener.inputs["protocol"] == "HTTPS":
            assert validations[listener.inputs["certificateArn"]].region == listener.region
    certificates = run.of_type("aws:acm/certificate:Certificate")
    assert {c.region for c in certificates} == set(run.outputs["regions"])
    assert {c.inputs["domainName"] for c in certificates} == {"perfgate-prod.example.com"}
    protocols = sorted(r.inputs["protocol"] for r in run.of_type("aws:lb/listener:Listener"))
    assert protocols == ["HTTP"] * 3 + ["HTTPS"] * 3


# -- bug 10: AMP is fed ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_hosts_may_remote_write_to_the_workspace_with_its_own_log_retention(stack):
    run = program(stack)
    workspace = run.of_type("aws:amp/workspace:Workspace")[0]
    for policy in (p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name.endswith("-instance")):
        statements = json.loads(policy.inputs["policy"])["Statement"]
        assert {
            "Sid": "PrometheusRemoteWrite",
            "Effect": "Allow",
            "Action": "aps:RemoteWrite",
            "Resource": workspace.state["arn"],
        } in statements
    log_group = next(r for r in run.of_type("aws:cloudwatch/logGroup:LogGroup") if r.name.endswith("-amp-logs"))
    assert log_group.inputs["retentionInDays"] == stack_config(stack)["prometheus_log_retention_days"]
    assert stack_config(stack)["prometheus_log_retention_days"] != stack_config(stack)["flow_log_retention_days"]


def test_managed_prometheus_on_debian_12_hosts_is_a_config_error():
    config = {**stack_config("staging")}
    del config["ami"]  # the default, Debian 12, whose Prometheus does not sign SigV4
    with pytest.raises(infra_config.ConfigError, match=r"Debian 12's .* sends them unsigned"):
        infra_config.load(config, "staging")
