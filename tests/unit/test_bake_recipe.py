"""The agent image is rebuilt only when one of its bake's recipe files changes
(playbooks/local/local_env.yml, local_env_host_bakes). A role task file the bake runs but the
list leaves out would let a changed task keep a stale image, so the list is checked against the
task files the bake playbook actually reaches: its tasks_from entry points and, from them, every
import_tasks and include_tasks."""

from __future__ import annotations

from pathlib import Path

import yaml
from task_files import task_file_name, tasks_in

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"


def reached_task_files(role: str, entry_points: list[str]) -> set[str]:
    tasks_dir = ROLES / role / "tasks"
    pending = [f"{name}.yml" for name in entry_points]
    reached: set[str] = set()
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        tasks = tasks_in(yaml.safe_load((tasks_dir / name).read_text()))
        pending.extend(included for included in map(task_file_name, tasks) if included)
    return {f"roles/{role}/tasks/{name}" for name in reached}


def test_every_task_file_the_agent_bake_runs_is_a_recipe_file() -> None:
    bakes = yaml.safe_load((REPO / "playbooks" / "local" / "local_env.yml").read_text())["local_env_host_bakes"]
    bake = bakes["agent"]
    play = yaml.safe_load((REPO / "playbooks" / "local" / bake["playbook"]).read_text())[0]
    entry_points = [
        task["ansible.builtin.include_role"]["tasks_from"]
        for task in play["tasks"]
        if "ansible.builtin.include_role" in task
    ]
    assert entry_points, "the bake playbook runs no role tasks: the check would prove nothing"
    reached = reached_task_files("bench_agent", entry_points)
    missing = sorted(reached - set(bake["recipe_files"]))
    assert not missing, f"the agent bake runs these task files but its recipe_files leave them out: {missing}"
