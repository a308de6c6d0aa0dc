"""What the rollout does with one evaluation's verdicts: an explicit state machine. Pure.

States: progressing -> promoted | rolled_back (both terminal until reset). A new rollout starts
by advancing to the first step without judging, since the canary has no traffic to judge yet.

Rules, in order:
1. a failing critical metric rolls back at once;
2. `rollback_after` consecutive evaluations with a failing metric roll back;
3. `max_nodata` consecutive evaluations with no failure but some nodata/error roll back
   (no data is never treated as a pass, and never as a failure before that limit);
4. `advance_after` consecutive all-pass evaluations advance one step, or promote after the last;
5. anything else holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_judge import ERROR, FAIL, NODATA, PASS

PROGRESSING, PROMOTED, ROLLED_BACK = "progressing", "promoted", "rolled_back"
TERMINAL = (PROMOTED, ROLLED_BACK)
ADVANCE, HOLD, ROLLBACK, PROMOTE, NOOP = "advance", "hold", "rollback", "promote", "noop"


@dataclass(frozen=True)
class Policy:
    steps: tuple[int, ...]
    advance_after: int = 1
    rollback_after: int = 2
    max_nodata: int = 3


@dataclass(frozen=True)
class RolloutState:
    rollout: str
    status: str = PROGRESSING
    step_index: int = -1  # -1: not started, no canary traffic yet
    weight: int = 0
    consecutive_pass: int = 0
    consecutive_fail: int = 0
    consecutive_nodata: int = 0
    evaluations: int = 0
    transitions: tuple[dict, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["transitions"] = list(self.transitions)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RolloutState:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        values = dict(data)
        values["transitions"] = tuple(values.get("transitions", ()))
        state = cls(**values)
        if state.status not in (PROGRESSING, *TERMINAL):
            raise ValueError(f"unknown status {state.status!r}")
        return state


@dataclass(frozen=True)
class Decision:
    decision: str
    state: RolloutState
    weight_before: int
    weight_after: int
    reasons: tuple[str, ...]


def _transition(state: RolloutState, decision: str, reasons: list[str], at: str, **changes) -> RolloutState:
    record = {"at": at, "decision": decision, "from_step": state.step_index, "reasons": reasons}
    changes.setdefault("consecutive_pass", 0)
    changes.setdefault("consecutive_fail", 0)
    changes.setdefault("consecutive_nodata", 0)
    new = replace(state, **changes)
    return replace(new, transitions=(*state.transitions, {**record, "to_step": new.step_index, "weight": new.weight}))


def decide(state: RolloutState, verdicts: list[dict], policy: Policy, at: str, reset: bool = False) -> Decision:
    """verdicts: [{'name', 'verdict', 'critical', 'reason'}, ...] from the judge."""
    steps = policy.steps
    before = state.weight
    if reset and state.status in TERMINAL:
        state = RolloutState(rollout=state.rollout, transitions=state.transitions)
    if state.status in TERMINAL:
        return Decision(
            NOOP,
            state,
            before,
            before,
            (f"rollout {state.rollout} is {state.status}; pass reset: true to start it again",),
        )
    if state.step_index < 0:
        new = _transition(state, ADVANCE, [f"rollout started at {steps[0]}%"], at, step_index=0, weight=steps[0])
        return Decision(ADVANCE, new, before, steps[0], (f"rollout started: canary weight {steps[0]}%",))

    state = replace(state, evaluations=state.evaluations + 1)
    failed = [v for v in verdicts if v["verdict"] == FAIL]
    missing = [v for v in verdicts if v["verdict"] in (NODATA, ERROR)]
    reasons = [v["reason"] for v in failed + missing]

    if any(v["critical"] for v in failed):
        names = ", ".join(v["name"] for v in failed if v["critical"])
        why = [f"critical metric failed ({names}): rolling back at once", *reasons]
        return Decision(
            ROLLBACK, _transition(state, ROLLBACK, why, at, status=ROLLED_BACK, weight=0), before, 0, tuple(why)
        )
    if failed:
        streak = state.consecutive_fail + 1
        if streak >= policy.rollback_after:
            why = [f"{streak} consecutive failing evaluations (limit {policy.rollback_after}): rolling back", *reasons]
            return Decision(
                ROLLBACK, _transition(state, ROLLBACK, why, at, status=ROLLED_BACK, weight=0), before, 0, tuple(why)
            )
        why = [f"failing evaluation {streak} of {policy.rollback_after} before rollback: holding", *reasons]
        return Decision(
            HOLD,
            replace(state, consecutive_fail=streak, consecutive_pass=0, consecutive_nodata=0),
            before,
            before,
            tuple(why),
        )
    if missing:
        streak = state.consecutive_nodata + 1
        if streak >= policy.max_nodata:
            why = [f"{streak} consecutive evaluations without data (limit {policy.max_nodata}): rolling back", *reasons]
            return Decision(
                ROLLBACK, _transition(state, ROLLBACK, why, at, status=ROLLED_BACK, weight=0), before, 0, tuple(why)
            )
        why = [f"no verdict for every metric ({streak} of {policy.max_nodata}): holding, never advancing", *reasons]
        return Decision(
            HOLD,
            replace(state, consecutive_nodata=streak, consecutive_pass=0, consecutive_fail=0),
            before,
            before,
            tuple(why),
        )

    passes = [v["reason"] for v in verdicts if v["verdict"] == PASS]
    streak = state.consecutive_pass + 1
    if streak < policy.advance_after:
        why = [f"passing evaluation {streak} of {policy.advance_after} needed to advance: holding", *passes]
        return Decision(
            HOLD,
            replace(state, consecutive_pass=streak, consecutive_fail=0, consecutive_nodata=0),
            before,
            before,
            tuple(why),
        )
    if state.step_index + 1 >= len(steps):
        why = [f"all metrics passed at the last step ({state.weight}%): promoting", *passes]
        return Decision(PROMOTE, _transition(state, PROMOTE, why, at, status=PROMOTED), before, before, tuple(why))
    nxt = steps[state.step_index + 1]
    why = [f"all metrics passed at {state.weight}%: advancing to {nxt}%", *passes]
    new = _transition(state, ADVANCE, why, at, step_index=state.step_index + 1, weight=nxt)
    return Decision(ADVANCE, new, before, nxt, tuple(why))
