"""The perfgate CrossGuard policy pack: `pulumi preview --policy-pack infra/policy`.

The rules live in rules.py as plain functions (unit-tested without the CLI); this file only
wraps them as mandatory policies.
"""

import sys
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.policy.rules import RESOURCE_RULES, STACK_RULES, StackResource


def resource_policy(name, rule):
    def validate(args, report_violation):
        for message in rule(args.resource_type, args.props):
            report_violation(message)

    return ResourceValidationPolicy(name=name, description=rule.__doc__, validate=validate)


def stack_policy(name, rule):
    def validate(args, report_violation):
        resources = [
            StackResource(
                resource_type=r.resource_type,
                name=r.name,
                props=r.props,
                urn=r.urn,
                dependencies={prop: [d.urn for d in deps] for prop, deps in r.property_dependencies.items()},
            )
            for r in args.resources
        ]
        for message in rule(resources):
            report_violation(message)

    return StackValidationPolicy(name=name, description=name.replace("-", " "), validate=validate)


PolicyPack(
    name="perfgate",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(resource_policy(name, rule) for name, rule in RESOURCE_RULES.items()),
        *(stack_policy(name, rule) for name, rule in STACK_RULES.items()),
    ],
)
