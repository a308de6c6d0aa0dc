"""Monitoring: per-region alarms on both target groups, a composite "canary unhealthy" alarm, an
SNS topic with the configured subscriptions and a dashboard; and, per stack, an optional Amazon
Managed Prometheus workspace that the hosts' Prometheus remote-writes to.

The topic is encrypted with a customer-managed KMS key whose policy lets CloudWatch use it: with
the AWS-managed alias/aws/sns key, whose policy cannot be changed, CloudWatch cannot publish and
every alarm notification is dropped.

Alarm thresholds come from the stack's `alarms` config, named like the gate's rollout variables,
so the alarm and the gate judge the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import AlarmSubscription, AlarmThresholds
from infra.tagging import tags_for

ALARM_KINDS = ("errors", "latency", "unhealthy")


@dataclass
class MonitoringArgs:
    region: str
    provider: aws.Provider
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffixes: dict[str, pulumi.Input[str]]  # group -> arn suffix
    thresholds: AlarmThresholds
    subscriptions: tuple[AlarmSubscription, ...]
    tags: dict[str, str]


def alarm_topic_key_policy(account_id: str) -> str:
    """The account administers the key; CloudWatch may encrypt messages for the topic with it."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchPublishesAlarms",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
            ],
        }
    )


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:monitoring:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        limits = args.thresholds

        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=args.provider))
        key = aws.kms.Key(
            f"{name}-alarms",
            description=f"Encrypts the {name} alarm topic; CloudWatch may use it to publish",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account.account_id.apply(alarm_topic_key_policy),
            tags=tags_for(args.tags, f"{name}-alarms"),
            opts=child,
        )
        aws.kms.Alias(f"{name}-alarms", name=f"alias/{name}-alarms", target_key_id=key.key_id, opts=child)
        self.topic = aws.sns.Topic(
            f"{name}-alarms", kms_master_key_id=key.arn, tags=tags_for(args.tags, f"{name}-alarms"), opts=child
        )
        for index, subscription in enumerate(args.subscriptions):
            aws.sns.TopicSubscription(
                f"{name}-alarms-{index}",
                topic=self.topic.arn,
                protocol=subscription.protocol,
                endpoint=subscription.endpoint,
                opts=child,
            )
        common = {
            "evaluation_periods": limits.evaluation_periods,
            "alarm_actions": [self.topic.arn],
            "ok_actions": [self.topic.arn],
            # No traffic is not an outage: an idle canary target group must not page anyone.
            "treat_missing_data": "notBreaching",
        }
        self.alarms: dict[str, dict[str, aws.cloudwatch.MetricAlarm]] = {}
        for group, target_group in args.target_group_arn_suffixes.items():
            dimensions = {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": target_group}
            prefix = f"{name}-{group}"

            def alarm_on(kind, description, metric, statistic, threshold, prefix=prefix, dimensions=dimensions):
                """An alarm on one ALB metric of this target group crossing `threshold`."""
                return aws.cloudwatch.MetricAlarm(
                    f"{prefix}-{kind}",
                    alarm_description=description,
                    namespace="AWS/ApplicationELB",
                    metric_name=metric,
                    dimensions=dimensions,
                    period=limits.period,
                    comparison_operator="GreaterThanThreshold",
                    threshold=threshold,
                    tags=tags_for(args.tags, f"{prefix}-{kind}"),
                    opts=child,
                    **statistic,
                    **common,
                )

            self.alarms[group] = {
                "errors": aws.cloudwatch.MetricAlarm(
                    f"{prefix}-errors",
                    alarm_description=f"{group}: target 5xx / requests above {limits.error_ceiling:.2%}",
                    comparison_operator="GreaterThanThreshold",
                    threshold=limits.error_ceiling,
                    metric_queries=[
                        _metric_query("errors", "HTTPCode_Target_5XX_Count", dimensions, limits.period),
                        _metric_query("requests", "RequestCount", dimensions, limits.period),
                        {
                            "id": "error_ratio",
                            "expression": "IF(requests > 0, errors / requests, 0)",
                            "label": "5xx ratio",
                            "return_data": True,
                        },
                    ],
                    tags=tags_for(args.tags, f"{prefix}-errors"),
                    opts=child,
                    **common,
                ),
                "latency": alarm_on(
                    "latency",
                    f"{group}: p99 target response time above {limits.latency_p99_ceiling} s",
                    "TargetResponseTime",
                    {"extended_statistic": "p99"},
                    limits.latency_p99_ceiling,
                ),
                "unhealthy": alarm_on(
                    "unhealthy",
                    f"{group}: more than {limits.unhealthy_hosts_maximum} unhealthy hosts",
                    "UnHealthyHostCount",
                    {"statistic": "Maximum"},
                    limits.unhealthy_hosts_maximum,
                ),
            }

        canary = self.alarms["canary"]
        self.canary_unhealthy = aws.cloudwatch.CompositeAlarm(
            f"{name}-canary-unhealthy",
            alarm_name=f"{name}-canary-unhealthy",
            alarm_description="The canary breaches any of its alarms: stop or roll back the rollout",
            alarm_rule=pulumi.Output.all(*(canary[kind].name for kind in ALARM_KINDS)).apply(
                lambda names: " OR ".join(f'ALARM("{n}")' for n in names)
            ),
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            tags=tags_for(args.tags, f"{name}-canary-unhealthy"),
            opts=child,
        )

        aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=f"{name}-{args.region}",
            dashboard_body=pulumi.Output.all(args.alb_arn_suffix, *args.target_group_arn_suffixes.values()).apply(
                lambda values: _dashboard(
                    args.region, values[0], dict(zip(args.target_group_arn_suffixes, values[1:], strict=True))
                )
            ),
            opts=child,
        )
        self.register_outputs({"topic_arn": self.topic.arn})


def _metric_query(query_id: str, metric: str, dimensions: dict, period: int) -> dict:
    return {
        "id": query_id,
        "metric": {
            "namespace": "AWS/ApplicationELB",
            "metric_name": metric,
            "dimensions": dimensions,
            "period": period,
            "stat": "Sum",
        },
    }


def _dashboard(region: str, alb: str, target_groups: dict[str, str]) -> str:
    def per_group(metric: str, stat: str) -> list:
        return [
            ["AWS/ApplicationELB", metric, "LoadBalancer", alb, "TargetGroup", tg, {"stat": stat, "label": group}]
            for group, tg in target_groups.items()
        ]

    def widget(title: str, metrics: list, y: int) -> dict:
        return {
            "type": "metric",
            "x": 0,
            "y": y,
            "width": 24,
            "height": 6,
            "properties": {"title": title, "region": region, "metrics": metrics, "view": "timeSeries", "period": 60},
        }

    return json.dumps(
        {
            "widgets": [
                widget("Requests per group", per_group("RequestCount", "Sum"), 0),
                widget("p99 target response time (s)", per_group("TargetResponseTime", "p99"), 6),
                widget("Target 5xx", per_group("HTTPCode_Target_5XX_Count", "Sum"), 12),
                widget("Healthy hosts", per_group("HealthyHostCount", "Minimum"), 18),
            ]
        }
    )


@dataclass
class PrometheusWorkspaceArgs:
    env: str
    provider: aws.Provider
    retention_days: int
    tags: dict[str, str]


class PrometheusWorkspace(pulumi.ComponentResource):
    """One Amazon Managed Prometheus workspace per stack. Each host's Prometheus remote-writes its own
    agent's series to it with SigV4 (the instance role has aps:RemoteWrite on it), and the gate can
    query it with prometheus_auth sigv4."""

    def __init__(self, name: str, args: PrometheusWorkspaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("perfgate:monitoring:PrometheusWorkspace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=args.retention_days, tags=tags_for(args.tags, f"{name}-logs"), opts=child
        )
        self.workspace = aws.amp.Workspace(
            name,
            alias=f"perfgate-{args.env}",
            logging_configuration={"log_group_arn": log_group.arn.apply(lambda arn: f"{arn}:*")},
            tags=tags_for(args.tags, name),
            opts=child,
        )
        self.remote_write_url = self.workspace.prometheus_endpoint.apply(lambda url: f"{url}api/v1/remote_write")
        self.query_url = self.workspace.prometheus_endpoint.apply(lambda url: url.rstrip("/"))
        self.register_outputs({"remote_write_url": self.remote_write_url, "query_url": self.query_url})
