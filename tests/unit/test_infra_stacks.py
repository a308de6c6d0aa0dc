"""Each stack's Pulumi program under mocks: the guarantees the infra issue lists, per stack."""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
from pathlib import Path

import pytest
from pulumi_program import ProgramRun, run_program, stack_config

from infra.policy import rules

AWS_STACKS = ("dev", "staging", "prod")
SNAPSHOTS = Path(__file__).parent / "snapshots"
_runs: dict[str, ProgramRun] = {}


def program(stack: str) -> ProgramRun:
    if stack not in _runs:
        _runs[stack] = run_program(stack)
    return _runs[stack]


def regions_of(stack: str) -> dict[str, ipaddress.IPv4Network]:
    return {r["name"]: ipaddress.ip_network(r["cidr"]) for r in stack_config(stack)["regions"]}


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_vpc_and_subnet_cidrs_do_not_overlap(stack):
    run = program(stack)
    vpcs = {r.region: ipaddress.ip_network(r.inputs["cidrBlock"]) for r in run.of_type("aws:ec2/vpc:Vpc")}
    assert vpcs == regions_of(stack)
    for first, second in itertools.combinations(vpcs.values(), 2):
        assert not first.overlaps(second)
    subnets = [(r.region, ipaddress.ip_network(r.inputs["cidrBlock"])) for r in run.of_type("aws:ec2/subnet:Subnet")]
    for region, subnet in subnets:
        assert subnet.subnet_of(vpcs[region])
    for (_, first), (_, second) in itertools.combinations(subnets, 2):
        assert not first.overlaps(second)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_subnet_tier_spans_the_configured_azs(stack):
    expected = 3 if stack == "prod" else 2
    assert stack_config(stack).get("az_count", 2) == expected
    run = program(stack)
    for region in regions_of(stack):
        for tier in ("public", "private", "isolated"):
            zones = {
                r.inputs["availabilityZone"]
                for r in run.of_type("aws:ec2/subnet:Subnet")
                if r.region == region and r.inputs["tags"]["perfgate:tier"] == tier
            }
            assert len(zones) == expected, (region, tier, zones)
            assert all(zone.startswith(region) for zone in zones)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_nat_gateways_follow_the_stack_mode(stack):
    run = program(stack)
    per_region = 3 if stack == "prod" else 1  # prod: one per AZ; dev and staging: one
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == per_region * len(regions_of(stack))


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_no_security_group_opens_ssh_to_the_world(stack):
    run = program(stack)
    rule_types = {"aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"}
    checked = [r for r in run.resources if r.type in rule_types]
    assert checked
    for resource in checked:
        assert rules.no_ssh_from_internet(resource.type, resource.inputs) == [], resource.name


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_alb_is_open_to_the_world_only_on_ports_it_listens_on(stack):
    """Bug 9: every ALB opened 443 to the internet, with nothing listening there without a certificate."""
    run = program(stack)
    for region in regions_of(stack):
        world = {
            int(r.inputs["fromPort"])
            for r in run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            if r.region == region and (r.inputs.get("cidrIpv4") == "0.0.0.0/0" or r.inputs.get("cidrIpv6") == "::/0")
        }
        listening = {int(r.inputs["port"]) for r in run.of_type("aws:lb/listener:Listener") if r.region == region}
        assert world == listening, region
    # Only a stack with a hosted zone (prod) gets certificates and so HTTPS.
    https = any(int(r.inputs["port"]) == 443 for r in run.of_type("aws:lb/listener:Listener"))
    assert https == ("hosted_zone_id" in stack_config(stack))


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_taggable_resource_carries_the_four_tags(stack):
    run = program(stack)
    expected = {k: v for k, v in stack_config(stack)["tags"].items() if k in rules.REQUIRED_TAGS}
    tagged = 0
    for resource in run.resources:
        if resource.type in rules.UNTAGGABLE_TYPES or resource.type.startswith("pulumi:"):
            continue
        tags = resource.inputs.get("tags")
        if resource.type == "aws:autoscaling/group:Group":
            tags = {t["key"]: t["value"] for t in tags}
        assert tags is not None, f"{resource.type} {resource.name} has no tags"
        assert {k: tags.get(k) for k in expected} == expected, resource.name
        tagged += 1
    assert tagged > len(run.resources) / 2


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_each_vpc_has_a_flow_log(stack):
    run = program(stack)
    vpc_ids = {f"{r.name}-id" for r in run.of_type("aws:ec2/vpc:Vpc")}
    logged = {r.inputs["vpcId"] for r in run.of_type("aws:ec2/flowLog:FlowLog")}
    assert vpc_ids and vpc_ids <= logged
    for log in run.of_type("aws:ec2/flowLog:FlowLog"):
        assert log.inputs["trafficType"] == "ALL"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_transit_gateway_peerings_and_routes_form_a_full_mesh(stack):
    run = program(stack)
    regions = regions_of(stack)
    n = len(regions)
    assert len(run.of_type("aws:ec2transitgateway/peeringAttachment:PeeringAttachment")) == n * (n - 1) // 2
    assert len(run.of_type("aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter")) == (
        n * (n - 1) // 2
    )
    for region in regions:
        remote = {str(c) for r, c in regions.items() if r != region}
        tgw_routes = {
            r.inputs["destinationCidrBlock"]
            for r in run.of_type("aws:ec2transitgateway/route:Route")
            if r.region == region
        }
        assert tgw_routes == remote
        # Every private and isolated route table of the region routes every remote CIDR to the TGW.
        tables = [
            r.name
            for r in run.of_type("aws:ec2/routeTable:RouteTable")
            if r.region == region and not r.name.endswith("-public")
        ]
        for table in tables:
            routed = {
                r.inputs["destinationCidrBlock"]
                for r in run.of_type("aws:ec2/route:Route")
                if r.inputs["routeTableId"] == f"{table}-id" and "transitGatewayId" in r.inputs
            }
            assert routed == remote, (region, table)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_listener_weights_sum_to_100_and_match_the_config(stack):
    run = program(stack)
    weights = stack_config(stack)["weights"]
    forwarding = [
        r for r in run.of_type("aws:lb/listener:Listener") if r.inputs["defaultActions"][0]["type"] == "forward"
    ]
    assert len(forwarding) == len(regions_of(stack))
    for listener in forwarding:
        groups = listener.inputs["defaultActions"][0]["forward"]["targetGroups"]
        assert sum(g["weight"] for g in groups) == 100
        assert [g["weight"] for g in groups] == [weights["stable"], weights["canary"]]
        assert rules.listener_weights_sum_to_100(listener.type, listener.inputs) == []


# The paths that work: pulumi-aws #5771 shows the wildcard form
# "defaultActions[*].forward.targetGroups[*].weight" ignoring nothing, so each index is spelled out.
WORKING_WEIGHT_PATHS = [
    "defaultActions[0].forward.targetGroups[0].weight",
    "defaultActions[0].forward.targetGroups[1].weight",
]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_weights_are_ignored_exactly_when_the_gate_owns_them(stack):
    """Bug 11: compared with the module's own constant, a broken wildcard path would have passed."""
    run = program(stack)
    gate_owns = stack_config(stack)["weights_owner"] == "gate"
    for listener in run.of_type("aws:lb/listener:Listener"):
        ignored = run.options[listener.name]["ignore_changes"]
        forwards = listener.inputs["defaultActions"][0]["type"] == "forward"
        assert ignored == (WORKING_WEIGHT_PATHS if gate_owns and forwards else []), listener.name
        if forwards:  # the ignored positions are the stable and canary groups, in that order
            arns = [g["arn"] for g in listener.inputs["defaultActions"][0]["forward"]["targetGroups"]]
            groups = {
                r.state["arn"]: r.inputs["tags"]["perfgate:group"]
                for r in run.of_type("aws:lb/targetGroup:TargetGroup")
            }
            assert [groups[a] for a in arns] == ["stable", "canary"]
    # Nothing else ignores the weights.
    others = [n for n, o in run.options.items() if any("targetGroups" in p for p in o["ignore_changes"])]
    assert all(n in {r.name for r in run.of_type("aws:lb/listener:Listener")} for n in others)


def test_the_stacks_cover_both_weight_owners():
    assert {stack_config(s)["weights_owner"] for s in AWS_STACKS} == {"gate", "pulumi"}


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_launch_templates_require_imdsv2_and_encrypt_ebs(stack):
    run = program(stack)
    templates = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 2 * len(regions_of(stack))
    for template in templates:
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"
        assert "keyName" not in template.inputs
        volumes = template.inputs["blockDeviceMappings"]
        assert volumes and all(v["ebs"]["encrypted"] == "true" and v["ebs"]["volumeType"] == "gp3" for v in volumes)
        assert rules.imdsv2_required(template.type, template.inputs) == []
        assert rules.ebs_encrypted(template.type, template.inputs) == []


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_each_target_group_has_an_alarm_of_every_kind(stack):
    run = program(stack)
    alarms = [
        rules.StackResource(r.type, r.name, r.state) for r in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    ]
    kinds = rules.alarm_kinds_by_target_group(alarms)
    target_groups = run.of_type("aws:lb/targetGroup:TargetGroup")
    assert len(target_groups) == 2 * len(regions_of(stack))
    for group in target_groups:
        assert kinds[group.state["arnSuffix"]] == {"errors", "latency", "unhealthy"}, group.name
    composite = run.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    assert len(composite) == len(regions_of(stack))
    for alarm in composite:
        assert alarm.inputs["alarmRule"].count("ALARM(") == 3 and "canary" in alarm.inputs["alarmRule"]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_fleet_is_tagged_for_the_aws_ec2_inventory(stack):
    run = program(stack)
    groups = run.of_type("aws:autoscaling/group:Group")
    seen = set()
    for group in groups:
        tags = {t["key"]: t["value"] for t in group.inputs["tags"] if t["propagateAtLaunch"]}
        assert tags["perfgate:env"] == stack and tags["perfgate:region"] == group.region
        seen.add((group.region, tags["perfgate:group"]))
    assert seen == {(r, g) for r in regions_of(stack) for g in ("stable", "canary")}


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_resource_is_in_its_regions_provider(stack):
    run = program(stack)
    for resource in run.resources:
        if resource.type.startswith("pulumi:providers:"):
            continue
        assert resource.region in regions_of(stack), f"{resource.name} uses the ambient provider"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_outputs_name_everything_rollout_needs(stack):
    outputs = program(stack).outputs
    assert set(outputs["regions"]) == set(regions_of(stack))
    for region in outputs["regions"].values():
        assert region["listener_arn"].startswith("arn:")
        assert set(region["target_group_arns"]) == {"stable", "canary"}
        assert region["alb_dns_name"] and region["sns_topic_arn"]
        assert (region["amp_remote_write_url"] is not None) == bool(stack_config(stack).get("managed_prometheus"))


@pytest.mark.parametrize("stack", [*AWS_STACKS, "k8s"])
def test_the_whole_stack_passes_the_policy_pack(stack):
    """Bug 8: the analyzer also hands the pack every ComponentResource, which required_tags flagged."""
    run = program(stack)
    assert run.components, "the program declares its ComponentResources"
    for resource in [*run.resources, *run.components]:
        for name, rule in rules.RESOURCE_RULES.items():
            assert rule(resource.type, resource.inputs) == [], (name, resource.type, resource.name)
    stack_resources = [rules.StackResource(r.type, r.name, r.state) for r in [*run.resources, *run.components]]
    for name, rule in rules.STACK_RULES.items():
        assert rule(stack_resources) == [], name


@pytest.mark.parametrize("stack", [*AWS_STACKS, "k8s"])
def test_resource_counts_match_the_committed_snapshot(stack):
    """A change to the infrastructure shows up in review as a diff of these snapshot files.
    Refresh them with PERFGATE_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_infra_stacks.py."""
    counts = program(stack).count_by_type()
    path = SNAPSHOTS / f"infra-{stack}.json"
    if os.environ.get("PERFGATE_UPDATE_SNAPSHOTS") == "1":
        path.write_text(json.dumps(counts, indent=2) + "\n")
    assert counts == json.loads(path.read_text()), f"resource counts changed; see {path.name}"


def test_kubernetes_variant_declares_the_cluster_objects():
    run = program("k8s")
    kinds = run.count_by_type()
    assert kinds["kubernetes:apps/v1:Deployment"] == 2
    assert kinds["kubernetes:core/v1:Service"] == 2
    assert kinds["kubernetes:autoscaling/v2:HorizontalPodAutoscaler"] == 2
    assert kinds["kubernetes:policy/v1:PodDisruptionBudget"] == 2
    release = run.of_type("kubernetes:helm.sh/v3:Release")[0]
    assert release.inputs["chart"] == "kube-prometheus-stack" and release.inputs["version"]
    assert {r.inputs["kind"] for r in run.resources if r.type.startswith("kubernetes:monitoring.coreos.com")} == {
        "ServiceMonitor",
        "PrometheusRule",
    }
    policies = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    route = run.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")[0]
    refs = route.inputs["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [("perfgate-bench-stable", 100), ("perfgate-bench-canary", 0)]
    assert run.options[route.name]["ignore_changes"] == [
        "spec.rules[0].backendRefs[0].weight",
        "spec.rules[0].backendRefs[1].weight",
    ]
    gateway = run.of_type("kubernetes:gateway.networking.k8s.io/v1:Gateway")[0]
    assert gateway.inputs["spec"]["gatewayClassName"] == "eg"
    assert route.inputs["spec"]["parentRefs"][0]["name"] == gateway.inputs["metadata"]["name"]
    assert not run.of_type("kubernetes:networking.k8s.io/v1:Ingress")


def test_kubernetes_variant_with_ingress_nginx_declares_the_canary_ingress():
    config = stack_config("k8s")
    config["kubernetes"] = {**config["kubernetes"], "traffic_router": "ingress_nginx"}
    run = run_program("k8s", config)
    canary = next(r for r in run.of_type("kubernetes:networking.k8s.io/v1:Ingress") if "canary" in r.name)
    annotations = canary.inputs["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/canary"] == "true"
    assert annotations["nginx.ingress.kubernetes.io/canary-weight"] == "0"
    assert run.options[canary.name]["ignore_changes"] == [
        'metadata.annotations["nginx.ingress.kubernetes.io/canary-weight"]'
    ]
    assert run.outputs["gate_traffic"] == {
        "ingress_nginx": {"namespace": "perfgate", "ingress": "perfgate-bench-canary"}
    }
    allowed = run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")[1].inputs["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in allowed
