"""Judge a candidate build against a baseline build from two result files, for CI pipelines.
It uses the same judge as canary_gate.

  PYTHONPATH=collections python -m ansible_collections.perfgate.fleet.plugins.module_utils.canary_cli \\
      judge --baseline base.json --candidate cand.json --config gate.yml [--step N] [--json]

Result files: {"metrics": {"latency": [0.0121, ...], "errors": {"errors": 3, "requests": 1000}}}
Config (YAML): {"metrics": [{"name": "latency", "kind": "latency", "max_increase": 0.05}, ...]}
Exit codes: 0 every metric passed, 1 a metric failed, 2 inconclusive (not yet sure, no data or a
source error),
3 the gate could not run (bad arguments, config or files).
"""

from __future__ import annotations

import argparse
import json
import sys

import yaml
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_evaluate import Window, evaluate
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_judge import FAIL, PASS
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import ConfigError, parse_metric
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import FileSource, SourceError

EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_CANNOT_RUN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit 2, which means "inconclusive" here
        self.print_usage(sys.stderr)
        print(f"canary judge: {message}", file=sys.stderr)
        sys.exit(EXIT_CANNOT_RUN)


def load_config(path: str) -> list:
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config {path} is not valid YAML: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("metrics"), list) or not config["metrics"]:
        raise ConfigError(f"config {path} must hold a non-empty 'metrics' list")
    metrics = []
    for raw in config["metrics"]:
        if isinstance(raw, dict):
            raw = {"source": "file", **raw}
            if raw["source"] != "file":
                raise ConfigError(f"metric {raw.get('name')!r}: the CLI judges result files; source must be file")
        metrics.append(parse_metric(raw, {"canary": "canary", "baseline": "baseline"}))
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="canary", description="Judge a candidate build against a baseline build.")
    commands = parser.add_subparsers(dest="command", required=True)
    judge = commands.add_parser("judge", help="compare two result files")
    judge.add_argument("--baseline", required=True, help="result file of the baseline build")
    judge.add_argument("--candidate", required=True, help="result file of the candidate build")
    judge.add_argument("--config", required=True, help="YAML with the metrics and their thresholds")
    judge.add_argument("--step", type=int, default=0, help="step index for per-step thresholds (default 0)")
    judge.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    args = parser.parse_args(argv)
    try:
        metrics = load_config(args.config)
        source = FileSource.per_group({"baseline": args.baseline, "canary": args.candidate})
    except (ConfigError, SourceError) as error:
        print(f"canary judge: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    judged, _, _ = evaluate(metrics, {"file": source}, Window(step_index=args.step, traffic_share=1.0))
    verdicts = [v.as_dict() for v in judged]
    outcomes = {v["verdict"] for v in verdicts}
    code = EXIT_FAIL if FAIL in outcomes else EXIT_PASS if outcomes == {PASS} else EXIT_INCONCLUSIVE
    if args.json:
        print(json.dumps({"result": ["pass", "fail", "inconclusive"][code], "verdicts": verdicts}, indent=2))
    else:
        for verdict in verdicts:
            print(f"{verdict['verdict'].upper():7} {verdict['reason']}")
        print(["PASS", "FAIL", "INCONCLUSIVE"][code])
    return code


if __name__ == "__main__":
    sys.exit(main())
