"""infra/stack_vars.py: a stack's outputs become rollout targets the gate accepts."""

from __future__ import annotations

import json

import jinja2
import pytest
import yaml
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import parse_metric
from pulumi_program import run_program

from infra import stack_vars

ROLLOUT_DEFAULTS = {"rollout_latency_max_increase": 0.25, "rollout_error_ceiling": 0.01, "rollout_min_samples": 50}


@pytest.fixture(scope="module")
def prod_outputs():
    return run_program("prod").outputs


def rendered_as_ansible_would(text: str, host_region: str = "eu-west-1") -> dict:
    """Loads the file and resolves its {{ ... }} references like Ansible does for one host of
    `host_region` (whose `region` variable comes from its perfgate:region tag)."""
    variables = yaml.safe_load(text)
    template = jinja2.Environment(undefined=jinja2.StrictUndefined)
    context = {**ROLLOUT_DEFAULTS, **variables, "region": host_region}

    def resolve(value):
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, str) and "{{" in value:
            return yaml.safe_load(template.from_string(value).render(context))
        return value

    return resolve(variables)


def test_every_region_becomes_an_alb_target_with_cloudwatch_metrics(prod_outputs):
    variables = rendered_as_ansible_would(stack_vars.render(prod_outputs))
    targets = variables["rollout_targets"]
    assert [t["region"] for t in targets] == sorted(prod_outputs["regions"])
    for target in targets:
        region = prod_outputs["regions"][target["region"]]
        assert target["aws_region"] == target["region"]
        assert target["traffic"]["aws_alb"] == {
            "listener_arn": region["listener_arn"],
            "stable_target_group_arn": region["target_group_arns"]["stable"],
            "canary_target_group_arn": region["target_group_arns"]["canary"],
        }
        specs = {m["name"]: parse_metric(m, {"canary": "canary", "baseline": "stable"}) for m in target["metrics"]}
        assert specs["errors"].critical and specs["latency"].kind == "latency"
        canary_latency = target["metrics"][0]["canary"]
        assert canary_latency["dimensions"]["TargetGroup"] == region["target_group_arn_suffixes"]["canary"]
        assert (
            target["metrics"][0]["baseline"]["dimensions"]["TargetGroup"]
            == (region["target_group_arn_suffixes"]["stable"])
        )


def test_cli_writes_the_file_atomically_and_refuses_bad_input(tmp_path, prod_outputs, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(prod_outputs))
    destination = tmp_path / "vars" / "prod.yml"
    assert stack_vars.main([str(outputs), "-o", str(destination)]) == 0
    first = destination.read_text()
    assert "rollout_targets" in yaml.safe_load(first)

    outputs.write_text('{"env": "prod", "regions": {"eu-west-1": {"listener_arn": "x"}}}')
    assert stack_vars.main([str(outputs), "-o", str(destination)]) == 2
    assert "region eu-west-1: the outputs lack 'target_group_arns'" in capsys.readouterr().err
    assert destination.read_text() == first  # untouched
    assert [p.name for p in destination.parent.iterdir()] == ["prod.yml"]  # no temporary left

    outputs.write_text("not json")
    assert stack_vars.main([str(outputs)]) == 2
    outputs.write_text("{}")
    assert stack_vars.main([str(outputs)]) == 2
    assert "no 'regions'" in capsys.readouterr().err


def test_a_pulumi_owned_stack_carries_a_warning():
    text = stack_vars.render(run_program("staging").outputs)
    assert "weights_owner: pulumi" in text


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-1"])
def test_each_host_gets_its_regions_ssm_bucket_and_the_workspace_to_remote_write(prod_outputs, region):
    variables = rendered_as_ansible_would(stack_vars.render(prod_outputs), host_region=region)
    assert variables["ansible_aws_ssm_bucket_name"] == prod_outputs["regions"][region]["ssm_bucket"]
    url = prod_outputs["regions"][region]["amp_remote_write_url"]
    assert variables["perfgate_prometheus_remote_write"] == [{"url": url, "sigv4_region": "eu-west-1"}]


def test_a_stack_without_a_workspace_writes_no_remote_write():
    assert "perfgate_prometheus_remote_write" not in yaml.safe_load(stack_vars.render(run_program("dev").outputs))
