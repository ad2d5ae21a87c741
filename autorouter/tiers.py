"""Price tiers and the deterministic, weighted tier roll. Pure Python, exact ``Decimal`` arithmetic.

A model's tier comes from its average price (mean of input and output, USD per
1M tokens): below ``cheap_threshold`` → cheap, below ``mid_threshold`` → mid,
otherwise premium.

The roll is a number in [0, 1) with six decimals derived from a SHA-256 of the
seed key, so the same key always gives the same tier, and many keys spread
over the tiers in the proportions of the weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from decimal import Decimal

from .types import TIERS, RouterSettings

ROLL_DIGITS = 6
_ROLL_SCALE = 10**ROLL_DIGITS


def tier_of(average_price: Decimal, settings: RouterSettings) -> str:
    if average_price < settings.cheap_threshold:
        return "cheap"
    if average_price < settings.mid_threshold:
        return "mid"
    return "premium"


def message_key(message: str) -> str:
    """The seed key used when the caller gives none: derived from the message text."""
    # "surrogatepass": any Python str is a message, lone surrogates included.
    return "message:" + hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def roll_for(seed_key: str) -> Decimal:
    """A uniform number in [0, 1), six decimals, fixed by ``seed_key``."""
    digest = hashlib.sha256(b"autorouter-tier:" + seed_key.encode("utf-8", "surrogatepass")).digest()
    value = int.from_bytes(digest[:8], "big") % _ROLL_SCALE
    return Decimal(value).scaleb(-ROLL_DIGITS)


def tier_for_roll(weights: Mapping[str, Decimal], roll: Decimal) -> str:
    """The tier whose slice of [0, 1) holds ``roll``; slices follow TIERS order, sized by weight."""
    upper = Decimal(0)
    chosen = None
    for tier in TIERS:
        weight = weights.get(tier, Decimal(0))
        if weight <= 0:
            continue
        upper += weight
        chosen = tier
        if roll < upper:
            return tier
    # Only reachable if the weights sum to less than 1 (validation prevents it): last weighted tier.
    return chosen or TIERS[0]


def nearest_tier(wanted: str, available: Collection[str], weights: Mapping[str, Decimal]) -> str | None:
    """``wanted`` if available, else the closest available tier.

    Distance counts steps along cheap-mid-premium. Between two equally close
    tiers, the one with the larger weight for this complexity wins, then the
    more capable (pricier) one.
    """
    if wanted in available:
        return wanted
    if not available:
        return None
    index = TIERS.index(wanted)
    return min(
        available,
        key=lambda tier: (
            abs(TIERS.index(tier) - index),
            -weights.get(tier, Decimal(0)),
            -TIERS.index(tier),
        ),
    )
