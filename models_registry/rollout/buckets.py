"""Per-subject buckets: pure arithmetic, no ORM.

A subject (a user, a user id, a session key) is hashed with the flag name
into a bucket 0..9999; the flag is on for it when the bucket is below
``percent * 100``. The same subject always gets the same answer, and raising
the percentage only adds subjects. Anonymous subjects are on only at 100%.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from functools import lru_cache
from typing import Any

BUCKETS = 10_000


def subject_key(subject: Any) -> str | None:
    """The stable key of whom a read is for: a user's pk, a user id, a session key; ``None`` if anonymous."""
    if subject is None or isinstance(subject, bool):
        return None
    if isinstance(subject, int):
        return str(subject)
    if isinstance(subject, str):
        return subject.strip() or None
    if getattr(subject, "is_anonymous", False):
        return None
    pk = getattr(subject, "pk", None)
    return None if pk is None else str(pk)


@lru_cache(maxsize=131_072)
def bucket(flag_name: str, key: str) -> int:
    """The subject's bucket for this flag, 0..9999. Stable across processes and releases."""
    digest = hashlib.blake2b(f"{flag_name}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def percent_threshold(percent: Decimal | int | float) -> int:
    """Buckets below this number are on: percent * 100, in 0..10000."""
    return max(0, min(BUCKETS, int(Decimal(str(percent)) * 100)))


def subject_is_in_percent(flag_name: str, subject: Any, percent: Decimal | int) -> bool:
    threshold = percent_threshold(percent)
    if threshold >= BUCKETS:
        return True
    key = subject_key(subject)
    return key is not None and bucket(flag_name, key) < threshold


def effective_percent(everyone: bool | None, percent: Decimal | None) -> Decimal:
    """The percentage a waffle flag row stands for: ``everyone`` on is 100, off is 0."""
    if everyone is True:
        return Decimal(100)
    if everyone is False:
        return Decimal(0)
    return Decimal(percent or 0)
