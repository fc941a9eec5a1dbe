"""Approval cases (网上办事): the order of stages and the time limits each item promises.

A case moves applied → accepted → approved or rejected → completed. The stages already seen for a case
(stage → time) come from the worker's state; the check is order-independent and idempotent, so a
re-processed event after a crash gets the same flags as the first time.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.rules.outcome import Flag, RuleViolation

__all__ = ["DECISIONS", "STAGE_RANK", "canonical_stage", "check_case_stage"]

STAGE_RANK = {"applied": 0, "accepted": 1, "approved": 2, "rejected": 2, "completed": 3}
DECISIONS = frozenset({"approved", "rejected"})
_DAY_MS = 86_400_000
_STAGE_ALIASES = {"申请": "applied", "受理": "accepted", "办结": "completed", "批准": "approved", "准予": "approved",
                  "不予": "rejected", "驳回": "rejected"}


def canonical_stage(raw: str | None) -> str:
    stage = (raw or "").strip().lower()
    stage = _STAGE_ALIASES.get(stage, stage)
    if stage not in STAGE_RANK:
        raise RuleViolation("case.stage_unknown",
                            f"stage {raw!r} is not one of applied, accepted, approved, rejected, completed")
    return stage


def check_case_stage(stage: str, stage_ms: int, seen: Mapping[str, int], *, statutory_days: int | None,
                     promised_days: int | None) -> tuple[Flag, ...]:
    """Flags for one stage event of a case, given the stages seen before (stage → epoch ms)."""
    rank = STAGE_RANK[stage]
    flags: list[Flag] = []
    for other, at in seen.items():
        other_rank = STAGE_RANK[other]
        if other == stage or other_rank == rank:
            if other != stage and other_rank == rank:
                flags.append(Flag("case.two_decisions", f"the case was already {other}"))
            continue
        if (other_rank < rank and at > stage_ms) or (other_rank > rank and at < stage_ms):
            flags.append(Flag("case.stage_order", f"{stage} is dated out of order with {other}"))
    missing = [s for s in ("applied", "accepted") if STAGE_RANK[s] < rank and s not in seen]
    if stage == "completed" and not DECISIONS & seen.keys():
        missing.append("approved/rejected")
    if missing:
        flags.append(Flag("case.stage_skipped", f"{stage} without {', '.join(missing)} before it"))
    if statutory_days is not None and promised_days is not None and promised_days > statutory_days:
        flags.append(Flag("case.limits_inconsistent",
                          f"the promised limit ({promised_days} days) exceeds the statutory one ({statutory_days})"))
    applied = seen.get("applied", stage_ms if stage == "applied" else None)
    if stage in DECISIONS and applied is not None:
        days = (stage_ms - applied) / _DAY_MS
        if statutory_days is not None and days > statutory_days:
            flags.append(Flag("case.over_statutory_limit",
                              f"decided after {days:.1f} days; the law allows {statutory_days}"))
        elif promised_days is not None and days > promised_days:
            flags.append(Flag("case.over_promised_limit",
                              f"decided after {days:.1f} days; {promised_days} were promised"))
    return tuple(flags)
