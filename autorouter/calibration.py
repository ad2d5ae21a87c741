"""Calibrating the difficulty thresholds of the tiers (pure: samples in, thresholds out).

The configured tier weights say what share of messages each tier should get: over a reference
set of messages (recent decisions, or a dataset), the target share of a tier is the mean of its
weight under each message's complexity. The thresholds are then the difficulties that split the
reference set at those shares: the easiest go cheap, the hardest premium, at the same cost mix
as the weighted roll. Deterministic: the same samples and weights give the same thresholds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .types import TIERS, RouterSettings

STEP = Decimal("0.001")  # difficulties have three decimal places
SHARE = Decimal("0.0001")


@dataclass(frozen=True)
class Calibration:
    samples: int
    mid_difficulty: Decimal
    premium_difficulty: Decimal
    target_shares: dict[str, Decimal]
    achieved_shares: dict[str, Decimal]

    def to_dict(self) -> dict:
        return {
            "samples": self.samples,
            "mid_difficulty": str(self.mid_difficulty),
            "premium_difficulty": str(self.premium_difficulty),
            "target_shares": {tier: str(share.quantize(SHARE)) for tier, share in self.target_shares.items()},
            "achieved_shares": {
                tier: str(share.quantize(SHARE)) for tier, share in self.achieved_shares.items()
            },
        }


def target_shares(complexities: Sequence[str], settings: RouterSettings) -> dict[str, Decimal]:
    """Each tier's share under the weights, over these messages' complexities."""
    count = len(complexities)
    return {
        tier: sum((settings.weights_for(c)[tier] for c in complexities), Decimal(0)) / count for tier in TIERS
    }


def _shares(difficulties: Sequence[Decimal], mid: Decimal, premium: Decimal) -> dict[str, Decimal]:
    count = len(difficulties)
    cheap = bisect_left(difficulties, mid)
    top = count - bisect_left(difficulties, premium)
    return {
        "cheap": Decimal(cheap) / count,
        "mid": Decimal(count - cheap - top) / count,
        "premium": Decimal(top) / count,
    }


def calibrate(samples: Sequence[tuple[float, str]], settings: RouterSettings) -> Calibration:
    """Thresholds for ``samples`` of (difficulty, complexity): the cheap share below the mid
    threshold and the premium share from the premium threshold on, as near the targets as the
    samples' ties allow (the lower threshold among equally near ones). ``ValueError`` without samples."""
    if not samples:
        raise ValueError("no samples to calibrate on")
    difficulties = sorted(Decimal(str(difficulty)).quantize(STEP) for difficulty, _ in samples)
    targets = target_shares([complexity for _, complexity in samples], settings)
    count = len(difficulties)
    # Candidate thresholds: every observed difficulty, and one step past the highest (none above).
    candidates = sorted({*difficulties, min(Decimal(1), difficulties[-1] + STEP)})

    def below(threshold: Decimal) -> int:
        return bisect_left(difficulties, threshold)

    mid = min(candidates, key=lambda t: (abs(Decimal(below(t)) / count - targets["cheap"]), t))
    premium = min(
        (t for t in candidates if t >= mid),
        key=lambda t: (abs(Decimal(count - below(t)) / count - targets["premium"]), t),
    )
    return Calibration(count, mid, premium, targets, _shares(difficulties, mid, premium))
