"""The stack's configuration, read once into typed objects and validated before any resource exists.

Components receive these objects; none of them calls pulumi.Config() itself. Every check names
what is wrong (which two CIDRs overlap, which region is unknown), so a bad Pulumi.<stack>.yaml
fails in `pulumi preview` with one readable line instead of half-declared infrastructure.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra import naming

# Commercial AWS regions. A region missing here is far more likely a typo ("eu-west-l") than a
# region launched after this list was written; add it when AWS announces one.
KNOWN_REGIONS = frozenset(
    {
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
        "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
        "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
        "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
        "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
        "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    }
)  # fmt: skip
REQUIRED_TAGS = ("env", "owner", "project", "cost-center")
FLEET_GROUPS = ("stable", "canary")
# Subnet tiers carved out of each region's CIDR, in this order, one subnet per AZ per tier.
SUBNET_TIERS = ("public", "private", "isolated")
# Each VPC is split into 16 equal blocks (prefix + 4): tier t in AZ i gets block t * 4 + i, so a
# region can grow to 4 AZs without renumbering.
SUBNET_PREFIX_EXTRA = 4
MAX_AZS = 4


class ConfigError(ValueError):
    """A stack configuration value is missing or wrong; the message says which and why."""


@dataclass(frozen=True)
class Region:
    name: str
    cidr: ipaddress.IPv4Network


@dataclass(frozen=True)
class FleetGroup:
    instance_type: str
    size: int


@dataclass(frozen=True)
class AlarmThresholds:
    """CloudWatch alarm thresholds, named like the gate's rollout variables (rollout_error_ceiling...)."""

    error_ceiling: float = 0.01  # 5xx / requests
    latency_p99_ceiling: float = 0.5  # seconds, TargetResponseTime p99
    unhealthy_hosts_maximum: int = 0
    evaluation_periods: int = 3
    period: int = 60


@dataclass(frozen=True)
class KubernetesSettings:
    namespace: str = "perfgate"
    image: str = "ghcr.io/example/perfgate-bench:1.0.0"
    canary_image: str = ""
    host: str = "perfgate.example.internal"
    stable_replicas: int = 2
    canary_replicas: int = 1
    max_replicas: int = 6
    prometheus_stack_version: str = "79.7.1"
    # What splits traffic between the stable and canary Services: an HTTPRoute of the Gateway API
    # (the successor of ingress-nginx, retired in March 2026) or ingress-nginx's canary Ingress.
    traffic_router: str = "gateway_api"
    gateway_class: str = "eg"  # the GatewayClass of the installed implementation (Envoy Gateway: eg)
    router_namespace: str = ""  # where the router's pods run (default: envoy-gateway-system or ingress-nginx)

    @property
    def router_pods_namespace(self) -> str:
        default = "envoy-gateway-system" if self.traffic_router == "gateway_api" else "ingress-nginx"
        return self.router_namespace or default


@dataclass(frozen=True)
class AlarmSubscription:
    protocol: str  # email | https
    endpoint: str


@dataclass(frozen=True)
class StackConfig:
    env: str
    platform: str  # aws | kubernetes
    regions: tuple[Region, ...]
    az_count: int
    nat: str  # single | per_az
    fleet: Mapping[str, FleetGroup]
    weights: Mapping[str, int]  # stable/canary, summing to 100
    weights_owner: str  # pulumi | gate
    alarms: AlarmThresholds
    tags: Mapping[str, str]
    domain: str | None = None
    hosted_zone_id: str | None = None  # the public Route 53 zone of `domain`
    certificate_arns: Mapping[str, str] = field(default_factory=dict)
    alarm_subscriptions: tuple[AlarmSubscription, ...] = ()
    agent_port: int = 8080
    flow_log_retention_days: int = 30
    access_log_retention_days: int = 30
    managed_prometheus: bool = False
    prometheus_log_retention_days: int = 30
    ami: str = "resolve:ssm:/aws/service/debian/release/12/latest/amd64"
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)

    @property
    def gate_owns_weights(self) -> bool:
        return self.weights_owner == "gate"

    def certificate_source(self, region: str) -> str:
        """ "arn" (certificate_arns names one), "acm" (requested and DNS-validated in the zone) or "none"."""
        if region in self.certificate_arns:
            return "arn"
        return "acm" if self.hosted_zone_id else "none"


# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


def load(raw: Mapping[str, Any], stack: str) -> StackConfig:
    """Builds and validates the StackConfig from the `perfgate:` keys of Pulumi.<stack>.yaml
    (without the prefix). Raises ConfigError naming the first problem found."""
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown config key(s) perfgate:{', perfgate:'.join(sorted(unknown))}")
    platform = _choice(raw, "platform", ("aws", "kubernetes"), "aws")
    config = StackConfig(
        env=_string(raw, "env", stack),
        platform=platform,
        regions=_regions(raw.get("regions"), required=platform == "aws"),
        az_count=_integer(raw, "az_count", 2, 2, MAX_AZS),
        nat=_choice(raw, "nat", ("single", "per_az"), "single"),
        fleet=_fleet(raw.get("fleet", {})),
        weights=_weights(raw.get("weights", {"stable": 100, "canary": 0})),
        weights_owner=_choice(raw, "weights_owner", ("pulumi", "gate"), "gate"),
        alarms=_alarms(raw.get("alarms", {})),
        tags=_tags(raw.get("tags")),
        domain=raw.get("domain") or None,
        hosted_zone_id=raw.get("hosted_zone_id") or None,
        certificate_arns=_mapping(raw, "certificate_arns"),
        alarm_subscriptions=_subscriptions(raw.get("alarm_subscriptions", [])),
        agent_port=_integer(raw, "agent_port", 8080, 1, 65535),
        flow_log_retention_days=_retention(raw, "flow_log_retention_days"),
        access_log_retention_days=_integer(raw, "access_log_retention_days", 30, 1, 3650),
        managed_prometheus=bool(raw.get("managed_prometheus", False)),
        prometheus_log_retention_days=_retention(raw, "prometheus_log_retention_days"),
        ami=_string(raw, "ami", StackConfig.ami),
        kubernetes=_kubernetes(raw.get("kubernetes", {})),
    )
    unknown_cert_regions = set(config.certificate_arns) - {r.name for r in config.regions}
    if unknown_cert_regions:
        raise ConfigError(f"certificate_arns names region(s) not in regions: {', '.join(sorted(unknown_cert_regions))}")
    if config.tags["env"] != config.env:
        raise ConfigError(f"tags.env is {config.tags['env']!r} but env is {config.env!r}; they must match")
    _check_env_fits_names(config)
    if config.managed_prometheus and DEBIAN_12_AMI in config.ami:
        raise ConfigError(
            "perfgate:managed_prometheus needs hosts whose Prometheus signs SigV4 remote writes; Debian 12's "
            "(2.42) sends them unsigned, so set perfgate:ami to resolve:ssm:/aws/service/debian/release/13/latest/amd64"
        )
    if bool(config.domain) != bool(config.hosted_zone_id):
        raise ConfigError(
            "perfgate:domain and perfgate:hosted_zone_id go together: the records and the certificates' "
            "validation records are written into that public hosted zone (aws route53 list-hosted-zones-by-name)"
        )
    if config.hosted_zone_id and not re.fullmatch(r"Z[A-Z0-9]{1,31}", config.hosted_zone_id):
        raise ConfigError(f"perfgate:hosted_zone_id {config.hosted_zone_id!r} is not a Route 53 zone id (Z...)")
    return config


DEBIAN_12_AMI = "/debian/release/12/"
ENV_PATTERN = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")


def _check_env_fits_names(config: StackConfig) -> None:
    longest = naming.longest_env([r.name for r in config.regions])
    if not ENV_PATTERN.fullmatch(config.env) or len(config.env) > longest:
        raise ConfigError(
            f"perfgate:env {config.env!r} must be 1 to {longest} lowercase letters, digits or inner hyphens: "
            f"it is part of the load balancer and target group names, which AWS limits to {naming.ELB_NAME_LIMIT} "
            "characters"
        )


_KNOWN_KEYS = {
    "env", "platform", "regions", "az_count", "nat", "fleet", "weights", "weights_owner", "alarms", "tags",
    "domain", "hosted_zone_id", "certificate_arns", "alarm_subscriptions", "agent_port",
    "flow_log_retention_days", "access_log_retention_days", "managed_prometheus",
    "prometheus_log_retention_days", "ami", "kubernetes",
}  # fmt: skip


def _string(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"perfgate:{key} must be a non-empty string, got {value!r}")
    return value


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(key, default)
    if value not in choices:
        raise ConfigError(f"perfgate:{key} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _integer(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"perfgate:{key} must be an integer from {low} to {high}; got {value!r}")
    return value


def _retention(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key, 30)
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in sorted(LOG_RETENTION_DAYS))
        raise ConfigError(f"perfgate:{key} must be a CloudWatch Logs retention ({allowed}); got {value!r}")
    return value


def _mapping(raw: Mapping[str, Any], key: str) -> dict[str, str]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"perfgate:{key} must be a mapping, got {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


SUBSCRIPTION_ENDPOINTS = {"email": re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"), "https": re.compile(r"https://\S+")}


def _subscriptions(value: Any) -> tuple[AlarmSubscription, ...]:
    if not isinstance(value, list):
        raise ConfigError("perfgate:alarm_subscriptions must be a list of {protocol, endpoint}")
    subscriptions = []
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping) or set(entry) != {"protocol", "endpoint"}:
            raise ConfigError(f"perfgate:alarm_subscriptions[{index}] must have exactly protocol and endpoint")
        protocol, endpoint = entry["protocol"], entry["endpoint"]
        if protocol not in SUBSCRIPTION_ENDPOINTS:
            raise ConfigError(
                f"perfgate:alarm_subscriptions[{index}].protocol must be email or https; got {protocol!r}"
            )
        if not isinstance(endpoint, str) or not SUBSCRIPTION_ENDPOINTS[protocol].fullmatch(endpoint):
            raise ConfigError(
                f"perfgate:alarm_subscriptions[{index}].endpoint {endpoint!r} is not an {protocol} endpoint"
            )
        subscriptions.append(AlarmSubscription(protocol, endpoint))
    return tuple(subscriptions)


def _regions(value: Any, required: bool) -> tuple[Region, ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or not value:
        raise ConfigError("perfgate:regions must be a non-empty list of {name, cidr}")
    regions = []
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping) or set(entry) != {"name", "cidr"}:
            raise ConfigError(f"perfgate:regions[{index}] must have exactly the keys name and cidr; got {entry!r}")
        name = entry["name"]
        if name not in KNOWN_REGIONS:
            raise ConfigError(f"perfgate:regions[{index}]: unknown AWS region {name!r}")
        try:
            cidr = ipaddress.IPv4Network(entry["cidr"])
        except ValueError as error:
            raise ConfigError(f"perfgate:regions[{index}] ({name}): invalid CIDR {entry['cidr']!r}: {error}") from None
        if not 16 <= cidr.prefixlen <= 24:
            raise ConfigError(f"perfgate:regions[{index}] ({name}): CIDR {cidr} must be a /16 to /24 (AWS VPC limits)")
        regions.append(Region(name, cidr))
    names = [r.name for r in regions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"perfgate:regions lists {', '.join(duplicates)} more than once")
    for first, second in itertools.combinations(regions, 2):
        if first.cidr.overlaps(second.cidr):
            raise ConfigError(
                f"perfgate:regions: {first.name} {first.cidr} overlaps {second.name} {second.cidr}; "
                "inter-region routing needs distinct CIDRs"
            )
    return tuple(regions)


def _fleet(value: Any) -> dict[str, FleetGroup]:
    if not isinstance(value, Mapping):
        raise ConfigError("perfgate:fleet must be a mapping of stable and canary to {instance_type, size}")
    missing = [g for g in FLEET_GROUPS if g not in value]
    extra = sorted(set(value) - set(FLEET_GROUPS))
    if extra:
        raise ConfigError(f"perfgate:fleet has unknown group(s) {', '.join(extra)}; groups are stable and canary")
    defaults = {"stable": FleetGroup("c6i.large", 2), "canary": FleetGroup("c6i.large", 1)}
    fleet = {g: defaults[g] for g in missing}
    for group in FLEET_GROUPS:
        if group in missing:
            continue
        entry = value[group]
        if not isinstance(entry, Mapping):
            raise ConfigError(f"perfgate:fleet.{group} must be a mapping with instance_type and size")
        instance_type = entry.get("instance_type", defaults[group].instance_type)
        size = entry.get("size", defaults[group].size)
        if not isinstance(instance_type, str) or "." not in instance_type:
            raise ConfigError(f"perfgate:fleet.{group}.instance_type must look like c6i.large; got {instance_type!r}")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
            raise ConfigError(f"perfgate:fleet.{group}.size must be an integer from 1 to 100; got {size!r}")
        fleet[group] = FleetGroup(instance_type, size)
    return fleet


def _weights(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping) or set(value) != set(FLEET_GROUPS):
        raise ConfigError(f"perfgate:weights must have exactly the keys stable and canary; got {value!r}")
    for group, weight in value.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ConfigError(f"perfgate:weights.{group} must be an integer from 0 to 100; got {weight!r}")
    total = value["stable"] + value["canary"]
    if total != 100:
        raise ConfigError(
            f"perfgate:weights must sum to 100; stable {value['stable']} + canary {value['canary']} = {total}"
        )
    return dict(value)


def _alarms(value: Any) -> AlarmThresholds:
    if not isinstance(value, Mapping):
        raise ConfigError("perfgate:alarms must be a mapping")
    known = set(AlarmThresholds.__dataclass_fields__)
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"perfgate:alarms has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ConfigError(f"perfgate:alarms.{key} must be a number; got {number!r}")
    try:
        thresholds = AlarmThresholds(**value)
    except TypeError as error:
        raise ConfigError(f"perfgate:alarms: {error}") from None
    if not 0 < thresholds.error_ceiling < 1:
        raise ConfigError(
            f"perfgate:alarms.error_ceiling must be a ratio between 0 and 1; got {thresholds.error_ceiling}"
        )
    if thresholds.latency_p99_ceiling <= 0:
        raise ConfigError("perfgate:alarms.latency_p99_ceiling must be a positive number of seconds")
    if thresholds.period % 60 != 0 or thresholds.evaluation_periods < 1:
        raise ConfigError("perfgate:alarms.period must be a multiple of 60 and evaluation_periods at least 1")
    return thresholds


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"perfgate:tags must be a mapping with {', '.join(REQUIRED_TAGS)}")
    missing = [t for t in REQUIRED_TAGS if not value.get(t)]
    if missing:
        raise ConfigError(
            f"perfgate:tags is missing {', '.join(missing)} (every resource carries {', '.join(REQUIRED_TAGS)})"
        )
    return {str(k): str(v) for k, v in value.items()}


def _kubernetes(value: Any) -> KubernetesSettings:
    if not isinstance(value, Mapping):
        raise ConfigError("perfgate:kubernetes must be a mapping")
    known = set(KubernetesSettings.__dataclass_fields__)
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(f"perfgate:kubernetes has unknown key(s) {', '.join(unknown)}")
    settings = KubernetesSettings(**value)
    if settings.traffic_router not in ("gateway_api", "ingress_nginx"):
        raise ConfigError(
            f"perfgate:kubernetes.traffic_router must be gateway_api or ingress_nginx; got {settings.traffic_router!r}"
        )
    return settings


def subnet_cidr(region: Region, tier: str, az_index: int) -> str:
    """The CIDR of one tier's subnet in one AZ (see SUBNET_PREFIX_EXTRA)."""
    blocks = list(region.cidr.subnets(prefixlen_diff=SUBNET_PREFIX_EXTRA))
    return str(blocks[SUBNET_TIERS.index(tier) * MAX_AZS + az_index])


def read_pulumi_config(config: Any) -> dict[str, Any]:
    """The `perfgate:` keys of the running stack as plain Python values (structured values parsed).

    `config` is a pulumi.Config("perfgate"). Keys are listed from the engine's config so that a
    misspelled key is reported by load() instead of silently ignored.
    """
    from pulumi.runtime import config as runtime_config

    configured = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    keys = sorted(k.split(":", 1)[1] for k in configured if k.startswith("perfgate:"))
    values: dict[str, Any] = {}
    for key in keys:
        text = config.get(key)
        try:
            values[key] = json.loads(text)
        except (TypeError, ValueError):
            values[key] = text  # a plain string such as env: dev
    return values
