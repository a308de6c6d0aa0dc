"""Linux cpulist strings ("0-3,8,10-11"), as used by sysfs, the kernel command line and systemd."""

from __future__ import annotations


class CpuListError(ValueError):
    """A cpulist string that cannot be parsed; the message names the bad part."""


def parse_cpulist(text: str, what: str = "cpulist") -> frozenset[int]:
    """Parse "0-3,8" into {0, 1, 2, 3, 8}. An empty string is the empty set."""
    cpus: set[int] = set()
    text = text.strip()
    if not text:
        return frozenset()
    for part in text.split(","):
        part = part.strip()
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.strip().isdigit() for b in bounds):
            raise CpuListError(f"{what} {text!r}: {part!r} is not a CPU number or a range like 2-7")
        low, high = int(bounds[0]), int(bounds[-1])
        if low > high:
            raise CpuListError(f"{what} {text!r}: range {part!r} runs backwards")
        cpus.update(range(low, high + 1))
    return frozenset(cpus)


def format_cpulist(cpus: set[int] | frozenset[int]) -> str:
    """Format {0, 1, 2, 3, 8} as "0-3,8", the shortest form the kernel accepts."""
    ordered = sorted(cpus)
    parts: list[str] = []
    start = prev = None
    for cpu in ordered:
        if prev is not None and cpu == prev + 1:
            prev = cpu
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = cpu
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def cpu_mask_hex(cpus: set[int] | frozenset[int]) -> str:
    """The comma-grouped hex mask (as in /proc/irq/*/smp_affinity) for older irqbalance versions."""
    mask = 0
    for cpu in cpus:
        mask |= 1 << cpu
    digits = f"{mask:x}"
    digits = digits.rjust((len(digits) + 7) // 8 * 8, "0")
    return ",".join(digits[i : i + 8] for i in range(0, len(digits), 8))
