"""perfgate-judge: the CI performance gate. Judges a candidate build against a baseline build
from two result files with canary_gate's statistics, and says so in its exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from perfgate_bench import __version__

EXIT_PASS, EXIT_FAIL, EXIT_INCONCLUSIVE, EXIT_CANNOT_RUN = 0, 1, 2, 3
# Benchmark repeats come in tens, not hundreds: unless a metric sets min_samples, this many per
# build are enough for a verdict.
DEFAULT_MIN_SAMPLES = 10

DESCRIPTION = """\
Judge a candidate build against a baseline build, for a performance gate in CI.

Result files (JSON), one per build, as `perfgate-bench run --results FILE` writes them:
  {"metrics": {"checksum": [0.0121, 0.0119, ...],            samples; larger is worse
               "errors": {"errors": 3, "requests": 1000}}}    counts, for kind ratio
  A samples entry may also be {"buckets": {"0.005": 10, "0.01": 42, "+Inf": 50}}
  (cumulative counts by upper bound, Prometheus style); Infinity is a timeout.

Config (YAML):
  metrics:
    - {name: checksum, kind: latency, max_increase: 0.05}   fail if surely > 5 % slower
    - {name: errors, kind: ratio, ceiling: 0.01}
  Each metric takes canary_gate's options (confidence, margin, quantiles, min_samples, ...);
  min_samples defaults to 10 here. The comparison is one-shot: both files are all the data.

Exit codes:
  0  every metric passed
  1  a metric failed: the candidate is worse than allowed
  2  inconclusive: too few samples, a metric missing from a file, or a value that is not valid
  3  the gate could not run: bad arguments, an unreadable config or result file
"""


def _load_collection() -> None:
    """canary_gate's statistics live in the perfgate.fleet collection: found on sys.path, under
    ANSIBLE_COLLECTIONS_PATH or the default collection paths, or in the clone this package was
    installed from."""
    candidates = [
        *filter(None, os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)),
        str(Path.home() / ".ansible" / "collections"),
        "/usr/share/ansible/collections",
        str(Path(__file__).resolve().parents[2] / "collections"),
    ]
    for path in candidates:
        if (Path(path) / "ansible_collections" / "perfgate" / "fleet").is_dir() and path not in sys.path:
            sys.path.append(path)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would exit 2, which means "inconclusive" here
        self.print_usage(sys.stderr)
        print(f"perfgate-judge: {message}", file=sys.stderr)
        sys.exit(EXIT_CANNOT_RUN)


def load_config(path: str, parse_metric, config_error) -> list:
    try:
        import yaml
    except ImportError:
        raise config_error("reading the config needs PyYAML: pip install 'perfgate-bench[judge]'") from None

    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except OSError as error:
        raise config_error(f"cannot read config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise config_error(f"config {path} is not valid YAML: {error}") from None
    if not isinstance(config, dict) or not isinstance(config.get("metrics"), list) or not config["metrics"]:
        raise config_error(f"config {path} must hold a non-empty 'metrics' list")
    metrics = []
    for raw in config["metrics"]:
        if isinstance(raw, dict):
            raw = {"source": "file", "min_samples": DEFAULT_MIN_SAMPLES, **raw}
            if raw["source"] != "file":
                raise config_error(f"metric {raw.get('name')!r}: the judge reads result files; source must be file")
        metrics.append(parse_metric(raw, {"canary": "canary", "baseline": "baseline"}))
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="perfgate-judge", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"perfgate-judge {__version__}")
    parser.add_argument("--baseline", required=True, help="result file of the baseline build")
    parser.add_argument("--candidate", required=True, help="result file of the candidate build")
    parser.add_argument("--config", required=True, help="YAML with the metrics and their thresholds")
    parser.add_argument("--step", type=int, default=0, help="step index for per-step thresholds (default 0)")
    parser.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    args = parser.parse_args(argv)

    _load_collection()
    try:
        from ansible_collections.perfgate.fleet.plugins.module_utils.canary_evaluate import Window, evaluate
        from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import ConfigError, parse_metric
        from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import FileSource, SourceError
        from ansible_collections.perfgate.fleet.plugins.module_utils.canary_verdict import FAIL, PASS
    except ImportError as error:
        print(
            f"perfgate-judge: cannot load the perfgate.fleet collection ({error}); install it "
            "(ansible-galaxy collection install) or set ANSIBLE_COLLECTIONS_PATH",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    try:
        metrics = load_config(args.config, parse_metric, ConfigError)
        source = FileSource.per_group({"baseline": args.baseline, "canary": args.candidate})
    except (ConfigError, SourceError) as error:
        print(f"perfgate-judge: {error}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    judged, _, _ = evaluate(metrics, {"file": source}, Window(step_index=args.step, traffic_share=1.0, one_shot=True))
    verdicts = [v.as_dict() for v in judged]
    outcomes = {v["verdict"] for v in verdicts}
    code = EXIT_FAIL if FAIL in outcomes else EXIT_PASS if outcomes == {PASS} else EXIT_INCONCLUSIVE
    if args.json:
        print(json.dumps({"result": ["pass", "fail", "inconclusive"][code], "verdicts": verdicts}, indent=2))
    else:
        for verdict in verdicts:
            print(f"{verdict['verdict'].upper():12} {verdict['reason']}")
        print(["PASS", "FAIL", "INCONCLUSIVE"][code])
    return code


if __name__ == "__main__":
    sys.exit(main())
