"""What the rollout does with one evaluation's verdicts: an explicit state machine. Pure.

States: progressing -> promoted | rolled_back (both terminal until reset). A new rollout starts
by advancing to the first step without judging, since the canary has no traffic to judge yet.

Rules, in order:
1. a failing sequential metric (latency, ratio) rolls back at once: its fail is anytime-valid
   evidence gathered over the whole rollout, and waiting for a second look adds nothing but
   exposure;
2. a failing critical metric of any kind rolls back at once;
3. `rollback_after` evaluations with a failing per-window metric (gauge, burn_rate, memory)
   since the last all-pass evaluation roll back. Inconclusive or nodata evaluations in between
   do not reset that count, so F, I, F rolls back at rollback_after 2;
4. `max_nodata` consecutive evaluations in which some metric had no data (no requests, an
   empty or stale series, a source error) roll back: no data is never a pass;
5. inconclusive (not yet sure, with data) holds and keeps collecting; it is not no data and
   never counts toward `max_nodata`;
6. `advance_after` consecutive all-pass evaluations advance one step, or promote after the last.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_verdict import (
    ERROR,
    FAIL,
    INCONCLUSIVE,
    NODATA,
    PASS,
    MetricVerdict,
)

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
    consecutive_fail: int = 0  # failing evaluations since the last all-pass one
    consecutive_nodata: int = 0
    evaluations: int = 0
    transitions: tuple[dict, ...] = field(default_factory=tuple)
    # Seconds (the gate's clock) when the canary first got traffic and when it was last judged.
    started_at: float | None = None
    last_evaluated_at: float | None = None
    evidence: dict = field(default_factory=dict)  # metric name -> what its judge keeps
    judged_until: dict = field(default_factory=dict)  # metric name -> clock its evidence reaches

    def as_dict(self) -> dict:
        data = asdict(self)
        data["transitions"] = list(self.transitions)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RolloutState:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        values = dict(data)
        values["transitions"] = tuple(values.get("transitions", ()))
        for name in ("evidence", "judged_until"):
            if not isinstance(values.get(name, {}), dict):
                raise ValueError(f"{name} is not a mapping")
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


def _rollback(state: RolloutState, before: int, why: list[str], at: str) -> Decision:
    new = _transition(state, ROLLBACK, why, at, status=ROLLED_BACK, weight=0)
    return Decision(ROLLBACK, new, before, 0, tuple(why))


def status(state: RolloutState) -> Decision:
    """Report where the rollout stands; changes nothing."""
    return Decision(
        NOOP, state, state.weight, state.weight, (f"rollout {state.rollout} is {state.status} at {state.weight}%",)
    )


def manual_rollback(state: RolloutState, live_weight: float, at: str) -> Decision:
    """Revert at once without judging; a no-op when already rolled back and at weight 0."""
    if state.status == ROLLED_BACK and live_weight == 0:
        return Decision(NOOP, state, 0, 0, ("already rolled back",))
    return _rollback(state, state.weight, ["manual rollback requested"], at)


def start(state: RolloutState, policy: Policy, at: str, now: float) -> Decision:
    first = policy.steps[0]
    new = _transition(
        state,
        ADVANCE,
        [f"rollout started at {first}%"],
        at,
        step_index=0,
        weight=first,
        started_at=now,
        last_evaluated_at=now,
    )
    return Decision(ADVANCE, new, state.weight, first, (f"rollout started: canary weight {first}%",))


def restarted(state: RolloutState) -> RolloutState:
    """A promoted or rolled-back rollout made new (reset: true): history kept, evidence dropped."""
    return RolloutState(rollout=state.rollout, transitions=state.transitions)


def decide(state: RolloutState, verdicts: list[MetricVerdict], policy: Policy, at: str) -> Decision:
    """One judged evaluation of a started rollout (see `start` for the first call)."""
    steps = policy.steps
    before = state.weight
    if state.status in TERMINAL:
        return Decision(
            NOOP,
            state,
            before,
            before,
            (f"rollout {state.rollout} is {state.status}; pass reset: true to start it again",),
        )
    if state.step_index < 0:
        raise ValueError("decide() needs a started rollout; call start() first")

    state = replace(state, evaluations=state.evaluations + 1)
    failed = [v for v in verdicts if v.verdict == FAIL]
    missing = [v for v in verdicts if v.verdict in (NODATA, ERROR)]
    unsure = [v for v in verdicts if v.verdict == INCONCLUSIVE]
    reasons = [v.reason for v in failed + missing + unsure]

    final = [v for v in failed if v.sequential or v.critical]
    if final:
        names = ", ".join(v.name for v in final)
        if any(v.sequential for v in final):
            why = f"metric failed on the evidence of the whole rollout ({names}): rolling back at once"
        else:
            why = f"critical metric failed ({names}): rolling back at once"
        return _rollback(state, before, [why, *reasons], at)
    if failed:
        count = state.consecutive_fail + 1
        if count >= policy.rollback_after:
            why = (
                f"{count} failing evaluations since the last passing one (limit {policy.rollback_after}): rolling back"
            )
            return _rollback(state, before, [why, *reasons], at)
        why = f"failing evaluation {count} of {policy.rollback_after} before rollback: holding"
        held = replace(state, consecutive_fail=count, consecutive_pass=0, consecutive_nodata=0)
        return Decision(HOLD, held, before, before, (why, *reasons))
    if missing:
        streak = state.consecutive_nodata + 1
        if streak >= policy.max_nodata:
            why = f"{streak} consecutive evaluations without data (limit {policy.max_nodata}): rolling back"
            return _rollback(state, before, [why, *reasons], at)
        why = f"no data for every metric ({streak} of {policy.max_nodata}): holding, never advancing"
        held = replace(state, consecutive_nodata=streak, consecutive_pass=0)
        return Decision(HOLD, held, before, before, (why, *reasons))
    if unsure:
        why = "not yet sure: holding and collecting more evidence (this is not missing data)"
        held = replace(state, consecutive_nodata=0, consecutive_pass=0)
        return Decision(HOLD, held, before, before, (why, *reasons))

    passes = [v.reason for v in verdicts if v.verdict == PASS]
    streak = state.consecutive_pass + 1
    if streak < policy.advance_after:
        why = f"passing evaluation {streak} of {policy.advance_after} needed to advance: holding"
        held = replace(state, consecutive_pass=streak, consecutive_fail=0, consecutive_nodata=0)
        return Decision(HOLD, held, before, before, (why, *passes))
    if state.step_index + 1 >= len(steps):
        why = f"all metrics passed at the last step ({state.weight}%): promoting"
        return Decision(
            PROMOTE, _transition(state, PROMOTE, [why, *passes], at, status=PROMOTED), before, before, (why, *passes)
        )
    nxt = steps[state.step_index + 1]
    why = f"all metrics passed at {state.weight}%: advancing to {nxt}%"
    new = _transition(state, ADVANCE, [why, *passes], at, step_index=state.step_index + 1, weight=nxt)
    return Decision(ADVANCE, new, before, nxt, (why, *passes))
