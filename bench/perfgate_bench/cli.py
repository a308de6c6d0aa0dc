"""perfgate-bench: run one kernel as a host benchmark, or serve the checksum service."""

from __future__ import annotations

import argparse
import json
import sys

from perfgate_bench import __version__
from perfgate_bench.atomic_write import atomic_write_json
from perfgate_bench.runner import KERNELS, BenchError, parse_cpus, parse_size, run_kernel


def add_results(path: str, kernel: str, seconds: list[float], append: bool = False) -> None:
    """perfgate-judge's result file: {"metrics": {kernel: [seconds, ...]}}, written atomically.
    With append, the kernel's samples already in the file are kept and these follow them."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        document = {"metrics": {}}
    except (OSError, ValueError) as error:
        raise BenchError(f"--results {path} exists but is not a results file: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
        raise BenchError(f"--results {path} exists but holds no 'metrics' mapping")
    earlier = document["metrics"].get(kernel, []) if append else []
    if not isinstance(earlier, list):
        raise BenchError(f"--results {path}: {kernel!r} holds no list of samples to append to")
    document["metrics"][kernel] = [*earlier, *seconds]
    atomic_write_json(path, document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perfgate-bench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"perfgate-bench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one kernel pinned to CPUs and report min/median/max")
    run.add_argument("--kernel", required=True, choices=KERNELS)
    run.add_argument("--size", default="256MiB", help="bytes of data, e.g. 64KiB, 256MiB (default 256MiB)")
    run.add_argument("--cpus", default="", help="CPU list to pin to before allocating, e.g. 2-3")
    run.add_argument("--repeat", type=int, default=5)
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument(
        "--results",
        metavar="FILE",
        help="also add each repeat's seconds, as the kernel's samples, to FILE in perfgate-judge's format "
        "(other kernels already in FILE are kept)",
    )
    run.add_argument(
        "--append",
        action="store_true",
        help="keep the kernel's samples already in --results FILE and add these after them, so that rounds "
        "of two builds can alternate on a shared machine",
    )

    serve = commands.add_parser("serve", help="serve POST /checksum, GET /healthz and GET /metrics")
    serve.add_argument("--config", help="TOML file with the settings below")
    serve.add_argument("--listen", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int)
    serve.add_argument("--cpus", help="CPU list to pin the service to")
    serve.add_argument("--version-label", dest="version", help="version label for metrics (default: package version)")
    serve.add_argument(
        "--periodic-kernels",
        type=lambda s: [k for k in s.split(",") if k],
        help="comma-separated kernels to run periodically: checksum,jitter (default none)",
    )
    serve.add_argument("--periodic-interval", type=float, help="seconds between periodic runs (default 60)")
    serve.add_argument("--inject-latency-ms", type=float, help="REHEARSALS ONLY: add this latency to every request")
    serve.add_argument("--inject-error-ratio", type=float, help="REHEARSALS ONLY: answer this share with HTTP 500")
    args = parser.parse_args(argv)
    if args.command == "run" and args.append and not args.results:
        parser.error("--append needs --results FILE")

    try:
        if args.command == "run":
            result = run_kernel(
                args.kernel, parse_size(args.size), parse_cpus(args.cpus) if args.cpus else None, args.repeat
            )
            if args.results:
                add_results(args.results, result.kernel, result.seconds, args.append)
            if args.json:
                print(json.dumps(result.as_dict(), indent=2))
            else:
                print(
                    f"{result.kernel}: min {result.min:.3f} median {result.median:.3f} max {result.max:.3f} "
                    f"{result.unit} on cpus {result.cpus} (NUMA node {result.numa_nodes})"
                )
            return 0
        from perfgate_bench.service import Service, ServiceConfig

        overrides = {
            k: getattr(args, k)
            for k in (
                "listen",
                "port",
                "cpus",
                "version",
                "periodic_kernels",
                "periodic_interval",
                "inject_latency_ms",
                "inject_error_ratio",
            )
        }
        config = ServiceConfig.load(args.config, overrides)
        if config.inject_latency_ms or config.inject_error_ratio:
            print(
                f"perfgate-bench: fault injection is ON (latency +{config.inject_latency_ms} ms, "
                f"errors {config.inject_error_ratio:.1%}): for rehearsals only",
                file=sys.stderr,
            )
        if config.inject_flag_on_latency_ms or config.inject_flag_on_error_ratio:
            print(
                f"perfgate-bench: fault injection is ON for flag-on requests (latency "
                f"+{config.inject_flag_on_latency_ms} ms, errors {config.inject_flag_on_error_ratio:.1%}): "
                "for rehearsals only",
                file=sys.stderr,
            )
        Service(config).serve()
        return 0
    except BenchError as error:
        print(f"perfgate-bench: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"perfgate-bench: {error.strerror or error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
