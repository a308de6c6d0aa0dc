"""Runs infra/__main__.py under pulumi.runtime.set_mocks and records every resource it declares.

The Pulumi CLI and provider plugins cannot be installed here, so the program runs against mocks
that echo inputs back as state and add the few computed outputs the program reads (ARNs, ids,
DNS names). They refuse what the providers refuse (pulumi_provider_rules.py: name limits after
auto-naming, nested required properties, snake_case in custom resources) and answer only the
invokes a real account answers the same way everywhere (availability zones, the ELB log account,
the caller's account id). A refusal fails the run, as `pulumi preview` would.
"""

from __future__ import annotations

import hashlib
import json
import runpy
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_provider_rules as provider_rules
import yaml
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

REPO = Path(__file__).resolve().parents[1]
ACCOUNT_ID = "123456789012"
PROGRAM = REPO / "infra" / "__main__.py"


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict
    provider_name: str | None
    region: str | None = None
    state: dict = field(default_factory=dict)  # what the mocks returned: inputs, computed outputs, id


@dataclass
class ProgramRun:
    resources: list[Resource] = field(default_factory=list)
    components: list[Resource] = field(default_factory=list)  # ComponentResources: the analyzer sees them too
    refusals: list[str] = field(default_factory=list)  # what the providers refused, in order
    invokes: list[str] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    options: dict[str, dict] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def count_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            counts[resource.type] = counts.get(resource.type, 0) + 1
        return dict(sorted(counts.items()))


# Outputs the program reads that a real provider would compute.
def _computed(type_token: str, name: str, inputs: dict, region: str | None) -> dict:
    arn = f"arn:aws:mock:::{name}"
    extra = {"arn": arn}
    if type_token == "aws:ec2/vpc:Vpc":
        extra |= {"defaultNetworkAclId": f"{name}-nacl", "defaultSecurityGroupId": f"{name}-sg"}
    elif type_token == "aws:ec2transitgateway/transitGateway:TransitGateway":
        extra |= {"associationDefaultRouteTableId": f"{name}-rtb"}
    elif type_token == "aws:lb/loadBalancer:LoadBalancer":
        extra |= {"arnSuffix": f"app/{name}/0123", "dnsName": f"{name}.elb.example", "zoneId": "ZALB"}
    elif type_token == "aws:lb/targetGroup:TargetGroup":
        extra |= {"arnSuffix": f"targetgroup/{name}/4567"}
    elif type_token == "aws:ec2/launchTemplate:LaunchTemplate":
        extra |= {"latestVersion": 1}
    elif type_token == "aws:amp/workspace:Workspace":
        workspace = "ws-" + hashlib.sha256(name.encode()).hexdigest()[:8]
        extra |= {"prometheusEndpoint": f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace}/"}
    elif type_token == "aws:kms/key:Key":
        extra |= {"keyId": f"{name}-key-id"}
    elif type_token == "aws:acm/certificate:Certificate":
        # ACM's validation CNAME depends on the account and the domain, not on the region.
        token = hashlib.sha256(inputs["domainName"].encode()).hexdigest()[:16]
        extra |= {
            "domainValidationOptions": [
                {
                    "domainName": inputs["domainName"],
                    "resourceRecordName": f"_{token}.{inputs['domainName']}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{token}.acm-validations.aws.",
                }
            ]
        }
    elif type_token == "aws:route53/record:Record":
        extra |= {"fqdn": str(inputs["name"]).rstrip(".")}
    elif type_token == "aws:acm/certificateValidation:CertificateValidation":
        extra |= {"certificateArn": inputs["certificateArn"]}
    return extra


class OptionsMonitor(MockMonitor):
    """Records each resource's ignore_changes, which the Mocks interface never sees."""

    def __init__(self, mocks: pulumi.runtime.Mocks, run: ProgramRun):
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request):
        self.run.options[request.name] = {"ignore_changes": list(request.ignoreChanges), "custom": request.custom}
        return super().RegisterResource(request)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, run: ProgramRun):
        self.run = run
        self.provider_regions: dict[str, str] = {}
        self.account = provider_rules.Account()

    def _region_of(self, provider: str | None) -> tuple[str | None, str | None]:
        if not provider:
            return None, None
        name = provider.split("::")[3]
        return name, self.provider_regions.get(name)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.typ == "pulumi:providers:aws":
            self.provider_regions[args.name] = args.inputs.get("region")
        provider_name, region = self._region_of(args.provider)
        if not args.custom:  # a ComponentResource: nothing is created in the cloud
            self.run.components.append(Resource(args.typ, args.name, dict(args.inputs), None, None))
            return f"{args.name}-id", {}
        try:
            named = provider_rules.check(args.typ, args.name, args.inputs)
            for value in named.values():
                self.account.claim_name(args.typ, region, value, args.name)
            if args.typ == "aws:route53/record:Record":
                self.account.claim_record(args.inputs, args.name)
        except provider_rules.ProviderRefusal as refusal:
            self.run.refusals.append(str(refusal))
            raise
        state = {**args.inputs, **_computed(args.typ, args.name, args.inputs, region), **named}
        resource_id = f"{args.name}-id"
        self.run.resources.append(
            Resource(args.typ, args.name, dict(args.inputs), provider_name, region, {**state, "id": resource_id})
        )
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        _, region = self._region_of(args.provider)
        self.run.invokes.append(args.token)
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{region}{zone}" for zone in "abcd"], "zoneIds": [], "id": region}
        if args.token == "aws:elb/getServiceAccount:getServiceAccount":
            return {"arn": "arn:aws:iam::156460612806:root", "id": "156460612806"}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                "userId": "AIDA",
                "id": ACCOUNT_ID,
            }
        # Anything else (a hosted zone, an AMI, a secret) depends on what the account holds: a
        # program that needs it at preview fails for every user who does not have it.
        refusal = f"the mocks do not answer {args.token}: the answer depends on the account"
        self.run.refusals.append(refusal)
        raise provider_rules.ProviderRefusal(refusal)


def stack_config(stack: str) -> dict[str, object]:
    """The perfgate: keys of Pulumi.<stack>.yaml, without the prefix."""
    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    return {key.split(":", 1)[1]: value for key, value in document["config"].items()}


def run_program(stack: str, config: dict[str, object] | None = None, run: ProgramRun | None = None) -> ProgramRun:
    """Runs the program for `stack` (its Pulumi.<stack>.yaml, or `config` instead) under mocks,
    recording into `run` (a new ProgramRun by default)."""
    values = stack_config(stack) if config is None else config
    run = ProgramRun() if run is None else run
    mocks = RecordingMocks(run)
    pulumi.runtime.set_mocks(mocks, project="perfgate", stack=stack, preview=False, monitor=OptionsMonitor(mocks, run))
    # Pulumi hands config to programs as strings, structured values as JSON.
    pulumi.runtime.set_all_config(
        {f"perfgate:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
    )
    stack_resource = pulumi.runtime.get_root_resource()
    stack_resource.outputs.clear()  # the root Stack outlives set_mocks; start each run empty
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__")))
        run.outputs = _sync_await(pulumi.Output.from_input(stack_resource.outputs).future())
    except Exception:
        if not run.refusals:
            raise
    if run.refusals:
        raise provider_rules.ProviderRefusal(f"{stack}: " + "; ".join(run.refusals))
    return run
