#!/usr/bin/python
"""Ansible module: write a rollout's report (decisions JSON, Markdown summary, PNG chart)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollout_report
short_description: Write a rollout's report from canary_gate's decision logs
version_added: "0.1.0"
description:
  - Reads C(<state_dir>/<part>.decisions.jsonl) for each part of a rollout (one per region) and
    writes into O(dest) C(decisions.json) (every record), C(summary.md) (outcome, time from first
    traffic to weight 0, one table row per evaluation) and C(chart.png) (the canary weight and
    the p99 latency of both groups over time, with every decision marked).
  - Each file is written atomically. Runs on the controller.
options:
  rollout:
    description: The rollout's id, used in titles.
    type: str
    required: true
  parts:
    description: The canary_gate rollout ids that make up this rollout, e.g. one per region.
    type: list
    elements: str
    required: true
  state_dir:
    description: canary_gate's O(state_dir).
    type: path
    required: true
  dest:
    description: Folder to write the report into; created when missing.
    type: path
    required: true
  outcome:
    description: The outcome to print (promoted, rolled_back, ...).
    type: str
    default: unknown
  stages:
    description:
      - The stages of a rollback that happen outside the gate, in order, such as a flag rollout's
        recovery watch and code rollback. Each is recorded in C(decisions.json) and gets a row in
        C(summary.md).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: What the stage did, for example C(flag off, then recovery watch).
        type: str
        required: true
      outcome:
        description: How it ended, for example C(recovered) or C(not recovered).
        type: str
        required: true
      seconds:
        description: How long it took.
        type: float
      detail:
        description: Anything a reader needs, for example the numbers that decided it.
        type: str
        default: ""
requirements:
  - matplotlib
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have.
    support: full
    details: Reports which report files would change; writes none.
  diff_mode:
    description: Returns details on what changed, in diff mode.
    support: none
  platform:
    description: Target OS and families the module runs on.
    support: full
    platforms: posix
author:
  - perfgate maintainers (@perfgate)
"""

EXAMPLES = r"""
- name: Write the report of a two-region rollout
  perfgate.fleet.rollout_report:
    rollout: checksum-1.1.0
    parts: [checksum-1.1.0-a, checksum-1.1.0-b]
    state_dir: .cache/rollouts
    dest: reports/checksum-1.1.0
    outcome: promoted
  delegate_to: localhost

- name: Write the report of a flag rollout whose rollback needed the code rolled back too
  perfgate.fleet.rollout_report:
    rollout: flag-checksum-v2
    parts: [flag-checksum-v2-flag]
    state_dir: .cache/rollouts
    dest: reports/flag-checksum-v2
    outcome: rolled_back
    stages:
      - {name: "flag off, then recovery watch", outcome: not recovered, seconds: 300.4, detail: "error rate 3.1%"}
      - {name: code rollback to 1.0.0, outcome: done, seconds: 21.7}
  delegate_to: localhost
"""

RETURN = r"""
dest:
  description: The report folder.
  returned: success
  type: str
files:
  description: The report's files.
  returned: success
  type: list
  elements: str
changed_files:
  description: The files whose content changed (or would, in check mode); empty on an identical repeat run.
  returned: success
  type: list
  elements: str
time_to_zero:
  description: Per part, seconds from the canary first receiving traffic to its weight read back as 0 (null if never).
  returned: success
  type: dict
evaluations:
  description: Per part, the number of evaluations recorded.
  returned: success
  type: dict
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.perfgate.fleet.plugins.module_utils.atomic_write import atomic_write_bytes
from ansible_collections.perfgate.fleet.plugins.module_utils.rollout_summary import markdown, time_to_zero, timeline

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False

ARGUMENT_SPEC = {
    "rollout": {"type": "str", "required": True},
    "parts": {"type": "list", "elements": "str", "required": True},
    "state_dir": {"type": "path", "required": True},
    "dest": {"type": "path", "required": True},
    "outcome": {"type": "str", "default": "unknown"},
    "stages": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "outcome": {"type": "str", "required": True},
            "seconds": {"type": "float"},
            "detail": {"type": "str", "default": ""},
        },
    },
}
MARKERS = {
    "advance": ("^", "tab:green"),
    "promote": ("*", "tab:green"),
    "rollback": ("X", "tab:red"),
    "hold": ("o", "tab:gray"),
    "noop": (".", "tab:gray"),
}


def read_records(path: str) -> list[dict]:
    records = []
    if not os.path.exists(path):
        return records
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    raise ValueError(f"{path} line {number} is not JSON") from None
    return records


def chart(rollout: str, outcome: str, parts: dict[str, list[dict]]) -> bytes:
    figure, axes = pyplot.subplots(len(parts), 1, figsize=(10, 3.6 * len(parts)), squeeze=False)
    for axis, (part, rows) in zip(axes[:, 0], parts.items(), strict=True):
        times = [row["t"] for row in rows]
        for key, label, style in (
            ("canary_p99_ms", "canary p99", "tab:orange"),
            ("baseline_p99_ms", "baseline p99", "tab:blue"),
        ):
            points = [(row["t"], row[key]) for row in rows if row[key] is not None]
            if points:
                axis.plot(*zip(*points, strict=True), color=style, marker=".", label=label)
        axis.set_ylabel("p99 latency (ms)")
        axis.set_xlabel("seconds since the first evaluation")
        weight_axis = axis.twinx()
        weight_axis.step(times, [row["weight"] for row in rows], where="post", color="black", label="canary weight %")
        for row in rows:
            marker, colour = MARKERS.get(row["decision"], ("o", "black"))
            weight_axis.scatter([row["t"]], [row["weight"]], marker=marker, color=colour, s=70, zorder=3)
        weight_axis.set_ylim(-5, 105)
        weight_axis.set_ylabel("canary weight (%)")
        axis.set_title(f"{part}: {rows[-1]['status'] if rows else 'no evaluations'}")
        handles = axis.get_legend_handles_labels()[0] + weight_axis.get_legend_handles_labels()[0]
        axis.legend(handles=handles, loc="upper left", fontsize="small")
    figure.suptitle(f"Rollout {rollout}: {outcome}  (▲ advance  ★ promote  ● hold  ✕ rollback)")
    figure.tight_layout()
    with tempfile.TemporaryFile() as buffer:
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})  # same input, same bytes
        pyplot.close(figure)
        buffer.seek(0)
        return buffer.read()


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_MATPLOTLIB:
        module.fail_json(msg=missing_required_lib("matplotlib"))
    params = module.params
    try:
        records = {
            part: read_records(os.path.join(params["state_dir"], f"{part}.decisions.jsonl")) for part in params["parts"]
        }
    except (OSError, ValueError) as error:
        module.fail_json(msg=f"rollout_report: {error}")
    rows = {part: timeline(part_records) for part, part_records in records.items()}
    zero = {part: (time_to_zero(part_rows) or {}).get("seconds") for part, part_rows in rows.items()}
    files = [os.path.join(params["dest"], name) for name in ("decisions.json", "summary.md", "chart.png")]
    result = {
        "dest": params["dest"],
        "files": files,
        "time_to_zero": zero,
        "evaluations": {part: len(part_rows) for part, part_rows in rows.items()},
    }
    document = {
        "rollout": params["rollout"],
        "outcome": params["outcome"],
        "time_to_zero_s": zero,
        "parts": records,
        "stages": params["stages"],
    }
    contents = [
        (json.dumps(document, indent=2) + "\n").encode(),
        markdown(params["rollout"], params["outcome"], rows, params["stages"]).encode(),
        chart(params["rollout"], params["outcome"], rows),
    ]
    # Changed only when a file's bytes would change: an identical repeat run is not a change.
    stale = [(path, data) for path, data in zip(files, contents, strict=True) if _read(path) != data]
    result["changed_files"] = [path for path, _data in stale]
    if module.check_mode or not stale:
        module.exit_json(changed=bool(stale), **result)
    try:
        os.makedirs(params["dest"], exist_ok=True)
        for path, data in stale:
            atomic_write_bytes(path, data)
    except OSError as error:
        module.fail_json(msg=f"rollout_report: cannot write {params['dest']}: {error}")
    module.exit_json(changed=True, **result)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


if __name__ == "__main__":
    main()
