"""perfgate's Pulumi program: reads and validates the stack config, then declares the AWS or the
Kubernetes variant. Run with `pulumi up` from the repository root (see README)."""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file by path; the repository root makes `infra` importable as a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra import aws_stack, config
from infra.kubernetes import kubernetes_stack

raw = pulumi.Config("perfgate")
try:
    stack_config = config.load(config.read_pulumi_config(raw), pulumi.get_stack())
except config.ConfigError as error:
    # A RunError is reported as one line, without a Python traceback.
    raise pulumi.RunError(f"invalid stack configuration: {error}") from None

if stack_config.platform == "aws":
    aws_stack.declare(stack_config)
else:
    kubernetes_stack.declare(stack_config)
