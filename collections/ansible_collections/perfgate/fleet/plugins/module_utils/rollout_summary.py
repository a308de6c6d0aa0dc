"""Turns a rollout's decision records into a timeline and a Markdown summary. No I/O."""

from __future__ import annotations

from datetime import datetime


def _time(record: dict) -> datetime:
    return datetime.fromisoformat(record["at"].replace("Z", "+00:00"))


def _verdict(record: dict, kind: str) -> dict:
    """The record's first verdict of a kind: the report's columns show one latency and one ratio."""
    for verdict in record.get("verdicts") or []:
        if verdict.get("kind") == kind:
            return verdict
    return {}


def timeline(records: list[dict]) -> list[dict]:
    """One row per evaluation: seconds since the first, weight, p99s (ms), error rates, decision."""
    rows = []
    start = _time(records[0]) if records else None
    for record in records:
        if "weight_after" not in record:
            continue  # an evaluation whose weight could not be applied; it is in decisions.json
        latency = _verdict(record, "latency").get("numbers", {})
        errors = _verdict(record, "ratio").get("numbers", {})
        rows.append(
            {
                "t": (_time(record) - start).total_seconds(),
                "at": record["at"],
                "weight": record["weight_after"],
                "weight_before": record.get("weight_before"),
                "decision": record["decision"],
                "status": record.get("status") or record["decision"],
                "canary_p99_ms": _ms(latency.get("canary_p99")),
                "baseline_p99_ms": _ms(latency.get("baseline_p99")),
                "canary_error_rate": errors.get("canary_rate"),
                "baseline_error_rate": errors.get("baseline_rate"),
                "verdicts": {v.get("name"): v.get("verdict") for v in record.get("verdicts") or []},
                "reasons": record.get("reasons") or [],
            }
        )
    return rows


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 3)


def first_traffic(rows: list[dict]) -> dict | None:
    """The first evaluation that left the canary with traffic; None when none did."""
    return next((row for row in rows if row["weight"] > 0), None)


def time_to_zero(rows: list[dict]) -> dict | None:
    """From the first evaluation that left the canary with traffic to the first read-back weight
    of 0 after it, in seconds; None when the weight never went back to 0."""
    first = first_traffic(rows)
    if first is None:
        return None
    back = next((row for row in rows if row["t"] > first["t"] and row["weight"] == 0), None)
    if back is None:
        return None
    return {"first_traffic_at": first["at"], "zero_at": back["at"], "seconds": back["t"] - first["t"]}


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if unit == "%":
        return f"{value * 100:.2f}%"
    return f"{value:g}{unit}"


def markdown(rollout: str, outcome: str, parts: dict[str, list[dict]], stages: list[dict] | None = None) -> str:
    lines = [f"# Rollout {rollout}: {outcome}", ""]
    if stages:
        lines += ["## Rollback stages after the gate's", ""]
        lines += ["| stage | outcome | seconds | detail |", "|---|---|---:|---|"]
        for stage in stages:
            lines.append(
                f"| {stage['name']} | {stage['outcome']} | {_fmt(stage.get('seconds'))} | {stage.get('detail') or ''} |"
            )
        lines.append("")
    for part, rows in parts.items():
        lines += [f"## {part}", ""]
        if not rows:
            lines += ["No evaluations were recorded.", ""]
            continue
        final = rows[-1]
        lines.append(f"- evaluations: {len(rows)}; ended **{final['status']}** at weight {final['weight']:g}%")
        zero = time_to_zero(rows)
        if zero and outcome == "rolled_back":
            lines.append(f"- from first receiving traffic to weight 0 (read back): **{zero['seconds']:.1f} s**")
        if final["reasons"]:
            lines.append(f"- why: {' / '.join(final['reasons'])}")
        lines += [
            "",
            "| t (s) | weight % | decision | canary p99 ms | baseline p99 ms | canary errors | baseline errors |",
            "|---:|---:|---|---:|---:|---:|---:|",
        ]
        for row in rows:
            lines.append(
                f"| {row['t']:.1f} | {row['weight']:g} | {row['decision']} | {_fmt(row['canary_p99_ms'])} | "
                f"{_fmt(row['baseline_p99_ms'])} | {_fmt(row['canary_error_rate'], '%')} | "
                f"{_fmt(row['baseline_error_rate'], '%')} |"
            )
        lines.append("")
    return "\n".join(lines)
