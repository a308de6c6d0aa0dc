"""Print, as JSON, the local users who could still log in over SSH with a key after hardening.

A user counts when they have a login shell, are allowed by AllowGroups (if any) and by
PermitRootLogin, and have at least one key line in ~/.ssh/authorized_keys(2).
usage: ssh_key_users.py '<json: {"allow_groups": [...], "permit_root": bool}>'
"""

import contextlib
import grp
import json
import os
import pwd
import sys

NO_LOGIN_SHELLS = {"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", ""}


def has_key(home: str) -> bool:
    for name in ("authorized_keys", "authorized_keys2"):
        try:
            with open(os.path.join(home, ".ssh", name), encoding="utf-8", errors="replace") as keys:
                if any(line.strip() and not line.lstrip().startswith("#") for line in keys):
                    return True
        except OSError:
            continue
    return False


def groups_of(user: pwd.struct_passwd) -> set[str]:
    names = {g.gr_name for g in grp.getgrall() if user.pw_name in g.gr_mem}
    with contextlib.suppress(KeyError):
        names.add(grp.getgrgid(user.pw_gid).gr_name)
    return names


def main() -> None:
    options = json.loads(sys.argv[1])
    allow_groups = set(options["allow_groups"])
    users = []
    for user in pwd.getpwall():
        if user.pw_shell in NO_LOGIN_SHELLS:
            continue
        if user.pw_uid == 0 and not options["permit_root"]:
            continue
        if allow_groups and not allow_groups & groups_of(user):
            continue
        if has_key(user.pw_dir):
            users.append(user.pw_name)
    json.dump({"users": users}, sys.stdout)


if __name__ == "__main__":
    main()
