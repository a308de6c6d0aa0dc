"""Move every IRQ whose affinity touches an isolated CPU onto the housekeeping CPUs.

usage: move_irqs.py [--check] HOUSEKEEPING_CPULIST ISOLATED_CPULIST
Prints JSON {"moved": [...], "refused": [...]}. Kernel-managed and per-CPU IRQs refuse the
write (EIO/EINVAL); they are reported, not fatal. With --check nothing is written and the
output is {"on_isolated": [...], "refused": []}: the IRQs that still touch isolated CPUs.
"""

import json
import os
import sys

# cpulist.py is shipped beside this file: the collection's own parser, byte for byte.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpulist import parse_cpulist as parse


def main():
    check = sys.argv[1] == "--check"
    housekeeping, isolated = sys.argv[-2], parse(sys.argv[-1])
    moved, refused = [], []
    for irq in sorted((d for d in os.listdir("/proc/irq") if d.isdigit()), key=int):
        path = f"/proc/irq/{irq}/smp_affinity_list"
        try:
            with open(path) as current:
                if not parse(current.read()) & isolated:
                    continue
            if check:
                moved.append(irq)
                continue
            with open(path, "w") as target:
                target.write(housekeeping)
            moved.append(irq)
        except OSError:
            refused.append(irq)
    json.dump({"on_isolated" if check else "moved": moved, "refused": refused}, sys.stdout)


if __name__ == "__main__":
    main()
