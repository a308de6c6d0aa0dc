"""What a judged metric says: the verdict words and the record the policy acts on. Standard
library only, so the policy, the state store and the traffic backends never load numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, INCONCLUSIVE, NODATA, ERROR = "pass", "fail", "inconclusive", "nodata", "error"


@dataclass(frozen=True)
class MetricVerdict:
    name: str
    kind: str
    verdict: str
    critical: bool
    reason: str
    numbers: dict = field(default_factory=dict)
    sequential: bool = False  # a fail is anytime-valid evidence over the whole rollout

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "verdict": self.verdict,
            "critical": self.critical,
            "sequential": self.sequential,
            "reason": self.reason,
            "numbers": self.numbers,
        }
