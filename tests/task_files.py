"""Reading Ansible task files and playbooks as data, for tests that check their structure."""

from __future__ import annotations

INCLUDE_KEYS = ("ansible.builtin.include_tasks", "include_tasks")
IMPORT_KEYS = ("ansible.builtin.import_tasks", "import_tasks")


def tasks_in(document) -> list[dict]:
    """Every task of a task file or playbook, those inside blocks, rescues and plays included."""
    found: list[dict] = []
    for item in document if isinstance(document, list) else []:
        if not isinstance(item, dict):
            continue
        found.append(item)
        for nested in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            found.extend(tasks_in(item.get(nested)))
    return found


def task_file_key(task: dict, keys: tuple[str, ...] = INCLUDE_KEYS + IMPORT_KEYS) -> str | None:
    """The include_tasks or import_tasks key a task uses, if any."""
    return next((key for key in keys if key in task), None)


def task_file_name(task: dict) -> str | None:
    """The file a task includes or imports (either spelling: a plain name or `file:`)."""
    key = task_file_key(task)
    if key is None:
        return None
    value = task[key]
    return value["file"] if isinstance(value, dict) else value
