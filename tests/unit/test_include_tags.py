"""A tag on include_tasks selects the include, not the tasks it brings in: those run under
--tags only if `apply` passes the tags on. cpu_isolation's verify include had its tags without
apply, so `--tags cpu_isolation_verify` ran the include and skipped every check in it. Every
tagged include in the roles and playbooks must hand its tags to what it includes."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from task_files import INCLUDE_KEYS, task_file_key, tasks_in

REPO = Path(__file__).resolve().parents[2]


def tagged_includes_without_apply() -> list[str]:
    files = [*(REPO / "roles").glob("*/tasks/*.yml"), *(REPO / "playbooks").rglob("*.yml")]
    problems = []
    for path in files:
        for task in tasks_in(yaml.safe_load(path.read_text())):
            key = task_file_key(task, INCLUDE_KEYS)
            tags = task.get("tags")
            if key is None or not tags:
                continue
            tags = [tags] if isinstance(tags, str) else tags
            spec = task[key]
            applied = (spec.get("apply") or {}).get("tags", []) if isinstance(spec, dict) else []
            applied = [applied] if isinstance(applied, str) else applied
            if set(tags) - set(applied) - {"always"}:
                problems.append(f"{path.relative_to(REPO)}: {task.get('name')}")
    return problems


def test_tagged_includes_pass_their_tags_to_the_included_tasks() -> None:
    assert tagged_includes_without_apply() == []


def test_the_check_finds_a_tagged_include_without_apply(tmp_path: Path, monkeypatch) -> None:
    role_tasks = tmp_path / "roles" / "demo" / "tasks"
    role_tasks.mkdir(parents=True)
    (tmp_path / "playbooks").mkdir()
    (role_tasks / "main.yml").write_text(
        "- name: Verify\n  ansible.builtin.include_tasks: verify.yml\n  tags: [demo_verify]\n"
        "- name: Reboot\n  ansible.builtin.include_tasks:\n    file: reboot.yml\n"
        "    apply:\n      tags: [demo_reboot]\n  tags: [demo_reboot]\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert tagged_includes_without_apply() == ["roles/demo/tasks/main.yml: Verify"]
