"""Per-subject percentage rollout on django-waffle flags.

Waffle's own percentage is a cookie roll per request, useless for a library
call. Here a subject (a user, a user id, a session key) is hashed with the
flag name into a bucket 0..9999, and the flag is on for it when the bucket is
below ``percent * 100``. The same subject always gets the same answer, and
raising the percentage only adds subjects. Anonymous subjects (``None``) are
on only at 100%.

Flags: ``use_db_models`` (the registry's read source) and
``use_db_router_config`` (the auto-router's config). Their state is served
from a :class:`~models_registry.read.snapshot.VersionedSnapshot`: no query per
check. Changing a flag goes through :func:`set_flag_percent`, which records
who and why in the flag's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import DatabaseError, transaction

from models_registry.audit import writes
from models_registry.audit.history import versions_of
from models_registry.audit.models import ChangeType
from models_registry.read import monitoring
from models_registry.read.snapshot import SnapshotUnavailable, VersionedSnapshot
from models_registry.rollout.buckets import (
    BUCKETS,
    bucket,
    effective_percent,
    percent_threshold,
    subject_key,
)
from models_registry.rollout.models import RolloutFlag
from models_registry.rollout.parity import run_parity_check
from models_registry.rollout.traffic import stage_traffic

DB_MODELS_FLAG = "use_db_models"
# Flags other apps declare with register_flag() (the router registers its own).
_known_flags: list[str] = [DB_MODELS_FLAG]
STAGES: tuple[int, ...] = (0, 1, 10, 50, 100)

MAX_FALLBACK_RATE = 0.01

SOURCE_ROLLOUT, SOURCE_DATABASE, SOURCE_STATIC = "rollout", "database", "static"
SOURCES = (SOURCE_ROLLOUT, SOURCE_DATABASE, SOURCE_STATIC)


def register_flag(name: str) -> None:
    """Declare a rollout flag (from an ``AppConfig.ready()``); only declared flags can be changed."""
    if name not in _known_flags:
        _known_flags.append(name)


def known_flags() -> tuple[str, ...]:
    return tuple(_known_flags)


class RolloutRefused(writes.WriteRefused):
    """A rollout change was refused; the message says why."""


def _read_source_setting() -> str:
    source = getattr(settings, "MODELS_REGISTRY_SOURCE", SOURCE_ROLLOUT)
    if source not in SOURCES:
        raise ValueError(f"MODELS_REGISTRY_SOURCE must be one of {', '.join(SOURCES)}, not {source!r}")
    return source


_source = _read_source_setting()


def source_setting() -> str:
    """``MODELS_REGISTRY_SOURCE``: rollout (flags decide), database (all on) or static (all off)."""
    return _source


def _load_thresholds() -> dict[str, int]:
    return {
        name: percent_threshold(effective_percent(everyone, percent))
        for name, everyone, percent in RolloutFlag.objects.values_list("name", "everyone", "percent")
    }


_thresholds = VersionedSnapshot(_load_thresholds, name="rollout-flags", area=RolloutFlag.snapshot_area)


def flag_is_active(flag_name: str, subject: Any = None) -> bool:
    """Whether ``flag_name`` is on for ``subject``. No query in steady state.

    ``MODELS_REGISTRY_SOURCE = "database"`` turns every flag on, ``"static"``
    every flag off. If the flags cannot be read at all (database down before
    the first load) the flag is off: the safe, static side.
    """
    if _source != SOURCE_ROLLOUT:
        return _source == SOURCE_DATABASE
    try:
        threshold = _thresholds.get().get(flag_name, 0)
    except SnapshotUnavailable:
        monitoring.count(monitoring.FALLBACKS)
        return False
    if threshold <= 0:
        return False
    if threshold >= BUCKETS:
        return True
    key = subject_key(subject)
    return key is not None and bucket(flag_name, key) < threshold


def current_percent(flag_name: str) -> Decimal:
    """The flag's percentage as stored (fresh from the database)."""
    flag = RolloutFlag.objects.filter(name=flag_name).first()
    return Decimal(0) if flag is None else effective_percent(flag.everyone, flag.percent)


def current_percents() -> dict[str, Decimal]:
    """Every known flag's percentage as stored (one query; a flag without a row is at 0%)."""
    names = known_flags()
    stored = dict.fromkeys(names, Decimal(0))
    for name, everyone, percent in RolloutFlag.objects.filter(name__in=names).values_list(
        "name", "everyone", "percent"
    ):
        stored[name] = effective_percent(everyone, percent)
    return stored


def parse_percent(value: Any) -> Decimal:
    """A percentage 0..100 with at most one decimal; ``ValidationError`` otherwise."""
    try:
        percent = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        raise ValidationError({"percent": f"{value!r} is not a number"}) from None
    if not percent.is_finite() or not 0 <= percent <= 100:
        raise ValidationError({"percent": "must be between 0 and 100"})
    if percent != percent.quantize(Decimal("0.1")):
        raise ValidationError({"percent": "at most one decimal place"})
    return percent


def next_stage(percent: Decimal) -> int | None:
    """The next stage of 0 → 1 → 10 → 50 → 100 above ``percent``, or ``None`` at 100."""
    return next((stage for stage in STAGES if stage > percent), None)


def _flag_state(percent: Decimal) -> dict[str, Any]:
    """Waffle's columns for a percentage: 100 is "everyone on", 0 "everyone off"."""
    if percent >= 100:
        return {"everyone": True, "percent": None}
    if percent <= 0:
        return {"everyone": False, "percent": None}
    return {"everyone": None, "percent": percent}


def set_flag_percent(
    flag_name: str,
    percent: Any,
    *,
    user: Any,
    reason: str,
    expected_percent: Decimal | None = None,
    expected_version: int | None = None,
    change_type: str = ChangeType.UPDATED,
) -> RolloutFlag:
    """Set a flag to ``percent`` (0..100) for the rollout, recording ``user`` and ``reason``.

    Creates the flag if needed. The new state reaches every process within the
    refresh interval; for ``use_db_models`` the read counters start a new
    period. With ``expected_percent``, refuses (:class:`RolloutRefused`) if the
    flag was moved meanwhile, so an ``advance`` cannot undo a rollback that
    landed between its checks and its write; with ``expected_version`` (what
    the rollout page showed), refuses with :class:`~models_registry.audit.writes.EditConflict`.
    Setting the percentage it already has is refused too: nothing would change.
    """
    reason = writes.require_reason(reason)
    percent = parse_percent(percent)
    if flag_name not in known_flags():
        raise ValidationError({"flag": f"unknown flag {flag_name!r}; known: {', '.join(known_flags())}"})
    with transaction.atomic():
        flag = RolloutFlag.objects.select_for_update().filter(name=flag_name).first()
        current = effective_percent(flag.everyone, flag.percent) if flag is not None else Decimal(0)
        if expected_percent is not None and current != expected_percent:
            raise RolloutRefused(f"{flag_name} moved to {current}% meanwhile; nothing changed")
        if flag is None:  # first use: the flag is created by this change, with its reason
            if expected_version not in (None, 0):
                raise RolloutRefused(f"{flag_name} does not exist any more; reload the page")
            flag = RolloutFlag(
                name=flag_name,
                superusers=False,
                note="Managed by `manage.py rollout`.",
                **_flag_state(percent),
            )
            try:
                writes.create(flag, user=user, reason=reason)
            except ValidationError:
                # Two first changes at once: the other one created the flag (its savepoint
                # rolled back only our insert). This change was decided on a state that is gone.
                if RolloutFlag.objects.filter(name=flag_name).exists():
                    raise RolloutRefused(f"{flag_name} was changed meanwhile; nothing changed") from None
                raise
        else:
            writes.check_version(flag, expected_version)
            if current == percent:
                raise RolloutRefused(f"{flag_name} is at {percent}% already; nothing changed")
            writes.update(
                flag, user=user, reason=reason, changes=_flag_state(percent), change_type=change_type
            )
        # Every stage change starts a new period of reads, so the next advance is judged on
        # traffic served at this stage only; the period records which flag version it belongs to.
        transaction.on_commit(partial(monitoring.start_new_period, stage=(flag_name, flag.version)))
    return flag


def flag_version(flag_name: str) -> int:
    """The flag's version as stored (0 if it was never set)."""
    return RolloutFlag.objects.filter(name=flag_name).values_list("version", flat=True).first() or 0


def revert_flag(
    flag_name: str, *, to_version: int, user: Any, reason: str, expected_version: int | None = None
) -> RolloutFlag:
    """Put the flag back at the percentage it had at ``to_version``, through the rollout rules.

    Recorded as a rollout change of type ``reverted``; refused if the flag
    already has that percentage.
    """
    flag = RolloutFlag.objects.get(name=flag_name)
    values = writes.values_at(flag, to_version)
    percent = effective_percent(values["everyone"], values["percent"])
    return set_flag_percent(
        flag_name,
        percent,
        user=user,
        reason=f"Reverted to v{to_version}: {writes.require_reason(reason)}",
        expected_version=expected_version,
        change_type=ChangeType.REVERTED,
    )


@dataclass(frozen=True, slots=True)
class Stage:
    """One change of a flag: its version with the percentage it set."""

    number: int
    change_type: str
    percent: Decimal
    changed_by: str
    reason: str
    at: datetime


def stage_history(flag_name: str) -> list[Stage]:
    """Every change of the flag, oldest first."""
    flag = RolloutFlag.objects.filter(name=flag_name).first()
    if flag is None:
        return []
    percents = {
        version: effective_percent(everyone, percent)
        for version, everyone, percent in flag.history.values_list("version", "everyone", "percent")
    }
    return [
        Stage(
            number=version.number,
            change_type=version.change_type,
            percent=percents.get(version.number, Decimal(0)),
            changed_by=version.changed_by,
            reason=version.reason,
            at=version.at,
        )
        for version in versions_of(flag)
    ]


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    global _source
    if setting == "MODELS_REGISTRY_SOURCE":
        _source = _read_source_setting()


setting_changed.connect(_on_setting_changed)


def min_reads_per_stage() -> int:
    """``ROLLOUT_MIN_READS``: reads a stage must serve before the fallback-rate gate can pass it."""
    return int(getattr(settings, "ROLLOUT_MIN_READS", 1000))


def advance_flag(
    flag_name: str, *, user: Any, reason: str, force: bool = False, expected_version: int | None = None
) -> Decimal:
    """Move the flag to the next stage (0 → 1 → 10 → 50 → 100) and return the new percentage.

    Refused while the parity check reports errors (for ``use_db_models``), while
    fewer than ``ROLLOUT_MIN_READS`` reads were served since the stage began
    (no traffic is no evidence), while more than 1% of them were fallbacks, or
    (``use_db_models`` from the first stage on) while the real traffic of the
    stage fails the gate of :mod:`models_registry.rollout.traffic`: too few
    requests on either catalog to judge, or the database side's error rate or
    cost per token too far above the static side's. At 0% there is no database
    traffic to compare yet, so the first step is judged on parity and reads only.

    ``force`` advances anyway; the checks still run, and the reason recorded in
    the flag's history says it was forced and which checks failed. The write is
    a compare-and-set on the stage the checks saw, and a stage change starts a
    new period of reads: however many advances run at once, the flag moves one stage.
    """
    reason = writes.require_reason(reason)
    current = current_percent(flag_name)
    target = next_stage(current)
    if target is None:
        raise RolloutRefused(f"{flag_name} is at 100% already")
    try:
        failed = _failing_checks(flag_name, current)
    except DatabaseError:
        raise  # the write could not happen either: nothing changes
    except Exception as exc:
        if not force:
            raise
        # --force is the way out when a check itself is broken (an unreadable static catalog, say).
        failed = [FailedCheck("checks", (f"could not be run ({exc.__class__.__name__}: {exc})",))]
    if failed and not force:
        raise RolloutRefused(
            f"not advancing {flag_name} from {current}% to {target}%: "
            + "; ".join(text for check in failed for text in check.problems)
        )
    if failed:  # forced: the history keeps what was overridden next to the operator's reason
        reason = f"{reason} [FORCED past failing checks: {'; '.join(check.summary() for check in failed)}]"
    set_flag_percent(
        flag_name,
        target,
        user=user,
        reason=reason,
        expected_percent=current,
        expected_version=expected_version,
    )
    return Decimal(target)


def traffic_gate_applies(flag_name: str, percent: Decimal) -> bool:
    """Whether advancing ``flag_name`` from ``percent`` is judged on the stage's real usage.

    Only the catalog's flag splits usage into a database and a static side, and only from the
    first stage on: at 0% no subject reads the database catalog, so there is nothing to compare.
    At 100% there is no next stage to judge.
    """
    return flag_name == DB_MODELS_FLAG and 0 < percent < 100


def traffic_gate_skipped(flag_name: str, percent: Decimal) -> str | None:
    """Why an advance from ``percent`` is not judged on traffic (``None`` when it is), for display."""
    if traffic_gate_applies(flag_name, percent):
        return None
    if flag_name != DB_MODELS_FLAG:
        return "only the catalog's flag splits usage into a database and a static side"
    if percent <= 0:
        return "at 0% no subject reads the database catalog: there is no database side to compare yet"
    return "at 100% there is no next stage"


@dataclass(frozen=True, slots=True)
class FailedCheck:
    """A check of ``advance_flag`` that did not pass, with its problems in words."""

    name: str  # parity, read counters, fallback rate, traffic
    problems: tuple[str, ...]

    def summary(self, shown: int = 3) -> str:
        """The check and its first problems (a parity report can list hundreds)."""
        more = len(self.problems) - shown
        text = "; ".join(self.problems[:shown]) + (f"; and {more} more" if more > 0 else "")
        return f"{self.name}: {text}"


def _failing_checks(flag_name: str, current: Decimal) -> list[FailedCheck]:
    """Every check of an advance from ``current`` that fails (empty: all pass)."""
    failed: list[FailedCheck] = []
    if flag_name == DB_MODELS_FLAG:
        report = run_parity_check()
        if report.errors:
            failed.append(FailedCheck("parity", tuple(report.errors)))
    totals = monitoring.totals()
    min_reads = min_reads_per_stage()
    # At 0% nothing reads the database yet: traffic as such is the evidence. From the first
    # stage on, the database's own share must have served enough reads.
    # (The router's flag is judged on the registry's traffic as a whole.)
    database_share = current > 0 and flag_name == DB_MODELS_FLAG
    judged = totals.reads_for_database if database_share else totals.reads
    flag_version_now = RolloutFlag.objects.filter(name=flag_name).values_list("version", flat=True).first()
    reads_problem = ""
    if not totals.shared:
        reads_problem = "the shared read counters (Redis) are unreachable, so the stage cannot be judged"
    elif flag_version_now and monitoring.stage_of_period() != (flag_name, flag_version_now):
        reads_problem = (
            "the read counters were not restarted when this stage began (the shared cache missed it); "
            "they restart at the next flag change"
        )
    elif judged < min_reads:
        which = "database reads" if database_share else "reads"
        reads_problem = (
            f"only {judged} {which} since the stage began; at least {min_reads} are needed "
            "to judge the fallback rate (shared counters need REDIS_URL)"
        )
    if reads_problem:
        failed.append(FailedCheck("read counters", (reads_problem,)))
    if totals.fallback_rate > MAX_FALLBACK_RATE:
        failed.append(
            FailedCheck(
                "fallback rate",
                (
                    f"fallback rate since the last stage is {totals.fallback_rate:.1%} "
                    f"({totals.fallbacks} of {totals.reads_for_database} reads meant for the database), "
                    f"above {MAX_FALLBACK_RATE:.0%}",
                ),
            )
        )
    if traffic_gate_applies(flag_name, current):
        comparison = stage_traffic(flag_name).comparison
        if not comparison.ok:
            failed.append(FailedCheck("traffic", comparison.problems))
    return failed


def rollback_flag(flag_name: str, *, user: Any, reason: str):
    """Set the flag to 0% at once: every subject reads the static side again."""
    return set_flag_percent(flag_name, 0, user=user, reason=reason)
