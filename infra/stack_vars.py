#!/usr/bin/env python3
"""Turns a stack's outputs into the variables file rollout.yml and rollback.yml read on AWS.

    pulumi stack output --json --stack prod | .venv/bin/python infra/stack_vars.py -o inventories/aws/prod.yml
    ansible-playbook -i inventories/aws/aws_ec2.yml -l env_prod -e @inventories/aws/prod.yml \\
        playbooks/rollout.yml -e canary_version=1.3.0

It writes `rollout_targets`: per region, the ALB listener and target groups the gate moves the
weight on, and CloudWatch metrics for the gate (p99 TargetResponseTime and the 5xx ratio of each
target group). Thresholds stay references to the rollout_* variables, so group_vars and -e still
set them. For site.yml it writes each region's aws_ssm transfer bucket and, when the stack has an
Amazon Managed Prometheus workspace, the hosts' remote-write target. The file is replaced
atomically; bad input leaves any previous file untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import yaml

LOOKBACK_MINUTES = 10  # CloudWatch ALB metrics arrive 1-3 minutes late; judge the last 10


class OutputsError(ValueError):
    pass


def _cloudwatch(metric: str, stat: str, alb: str, target_group: str) -> dict:
    return {
        "namespace": "AWS/ApplicationELB",
        "metric": metric,
        "dimensions": {"LoadBalancer": alb, "TargetGroup": target_group},
        "stat": stat,
        "period": 60,
        "minutes": LOOKBACK_MINUTES,
    }


def rollout_targets(outputs: dict) -> list[dict]:
    regions = outputs.get("regions")
    if not isinstance(regions, dict) or not regions:
        raise OutputsError("the outputs have no 'regions'; is this the output of a perfgate AWS stack?")
    targets = []
    for name, region in sorted(regions.items()):
        try:
            arns, suffixes, alb = (
                region["target_group_arns"],
                region["target_group_arn_suffixes"],
                region["alb_arn_suffix"],
            )
            listener = region["listener_arn"]
            stable, canary = arns["stable"], arns["canary"]
            stable_suffix, canary_suffix = suffixes["stable"], suffixes["canary"]
        except (KeyError, TypeError) as missing:
            raise OutputsError(f"region {name}: the outputs lack {missing}") from None

        def by_group(metric: str, stat: str) -> dict:
            return {
                "canary": _cloudwatch(metric, stat, alb, canary_suffix),  # noqa: B023 (used at once)
                "baseline": _cloudwatch(metric, stat, alb, stable_suffix),  # noqa: B023
            }

        targets.append(
            {
                "region": name,
                "aws_region": name,
                "traffic": {
                    "aws_alb": {
                        "listener_arn": listener,
                        "stable_target_group_arn": stable,
                        "canary_target_group_arn": canary,
                    }
                },
                "metrics": [
                    {
                        "name": "latency",
                        "source": "cloudwatch",
                        "kind": "latency",
                        "max_increase": "{{ rollout_latency_max_increase }}",
                        # CloudWatch gives one p99 per minute, so few samples exist per window.
                        "min_samples": 5,
                        **by_group("TargetResponseTime", "p99"),
                    },
                    {
                        "name": "errors",
                        "source": "cloudwatch",
                        "kind": "ratio",
                        "critical": True,
                        "ceiling": "{{ rollout_error_ceiling }}",
                        "min_samples": "{{ rollout_min_samples }}",
                        **{
                            group: {
                                "errors": _cloudwatch("HTTPCode_Target_5XX_Count", "Sum", alb, suffix),
                                "requests": _cloudwatch("RequestCount", "Sum", alb, suffix),
                            }
                            for group, suffix in (("canary", canary_suffix), ("baseline", stable_suffix))
                        },
                    },
                ],
            }
        )
    return targets


AMP_URL = re.compile(r"^https://aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com/workspaces/[^/]+/api/v1/remote_write$")


def host_variables(outputs: dict) -> dict:
    """What site.yml needs on AWS: the aws_ssm bucket of each host's region, and remote write."""
    regions = outputs["regions"]
    buckets = {}
    for name, region in sorted(regions.items()):
        if not region.get("ssm_bucket"):
            raise OutputsError(f"region {name}: the outputs lack ssm_bucket")
        buckets[name] = region["ssm_bucket"]
    variables = {
        "perfgate_ssm_buckets": buckets,
        # Templated per host: `region` comes from the host's perfgate:region tag.
        "ansible_aws_ssm_bucket_name": "{{ perfgate_ssm_buckets[region] }}",
    }
    urls = {region.get("amp_remote_write_url") for region in regions.values()} - {None}
    if len(urls) > 1:
        raise OutputsError(f"the regions name different remote-write URLs: {sorted(urls)}")
    if urls:
        url = urls.pop()
        match = AMP_URL.match(url)
        if not match:
            raise OutputsError(f"amp_remote_write_url {url!r} is not an Amazon Managed Prometheus remote-write URL")
        variables["perfgate_prometheus_remote_write"] = [{"url": url, "sigv4_region": match.group(1)}]
    return variables


def render(outputs: dict) -> str:
    header = (
        f"# Written by infra/stack_vars.py from the outputs of the {outputs.get('env', '?')} stack; "
        "re-run it after `pulumi up` instead of editing.\n"
    )
    if outputs.get("weights_owner") == "pulumi":
        header += (
            "# Note: this stack has weights_owner: pulumi, so the next `pulumi up` resets any weight the gate sets.\n"
        )
    targets = rollout_targets(outputs)  # checks the regions first
    document = {**host_variables(outputs), "rollout_targets": targets}
    return header + yaml.safe_dump(document, sort_keys=False, width=120)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as temporary:
        temporary.write(text)
    os.replace(temporary.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outputs", nargs="?", help="file with `pulumi stack output --json` (default: stdin)")
    parser.add_argument("-o", "--output", type=Path, help="variables file to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        text = Path(args.outputs).read_text() if args.outputs else sys.stdin.read()
        outputs = json.loads(text)
        if not isinstance(outputs, dict):
            raise OutputsError("expected a JSON object of stack outputs")
        rendered = render(outputs)
    except (OSError, ValueError) as error:
        print(f"stack_vars: {error}", file=sys.stderr)
        return 2
    if args.output:
        write_atomically(args.output, rendered)
    else:
        sys.stdout.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
