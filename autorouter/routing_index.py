"""The routing index: what routing needs from one snapshot, whatever the message; and the bounded decision.

Checking and scoring every catalog model for each message took 3-5 ms at 2,800
models, and the decision listed every model (376 KB). What does not depend on
the message is computed here once per snapshot: the catalog's models, the
router's profiles and settings, and the UTC day (a deprecation date makes a
model unselectable from that day). :func:`decide_bounded` then chooses exactly
what :func:`.engine.decide` chooses, in work bounded by what it keeps:

- the *routable* models (selectable on the day, public, with a profile), and
  how many of the others each of those rules leaves out;
- the routable models grouped by price tier, vision and image generation,
  sorted by context window: a message's eligible and excluded counts per rule
  are bisections;
- *cells*: routable models of one tier alike in what bounds their
  message-independent terms (strong or not for the complexity term, thinks,
  researches, close speed points, a cost band). Per (primary, secondary)
  category pair, on first use, each cell's models are sorted by their category
  points: within a cell the category points order the scores up to a few
  points, across cells the bounds differ.

The search is a threshold algorithm: the next model of a cell bounds every
model left in it (category points at most its own, the other terms at most the
cell's maxima). Cells are visited best bound first; the search stops when no
bound reaches the k-th best score found, ties included (a model scoring the same
may win by its id). Scores are :func:`.scoring.score_points`'s own, so ranks and
ties are exactly the exhaustive ones.

Pure Python, no ORM. Model ids are unique in a catalog (a ``CatalogIndex``'s are).
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from heapq import heapify, heappop, heappush
from operator import attrgetter

from models_registry.domain.access import FREE
from models_registry.domain.types import ModelConfig

from .decision import (
    CONTEXT_WINDOW,
    EXCLUDED,
    IMAGE_GENERATION,
    NO_IMAGE_GENERATION,
    NO_VISION,
    SHORT_CONTEXT,
    Candidate,
    Decision,
    Exclusion,
)
from .derived import with_derived_profiles
from .engine import (
    build_decision,
    check_arguments,
    counted,
    exclusion_for,
    fallback_reason_for,
    inputs_of,
    pick_tier,
    required_context,
    standing_exclusion,
)
from .scoring import NEUTRAL_BIAS, Context, Features, context_for, features_for, score_points
from .tiers import message_key, roll_for
from .types import TIERS, Classification, Profile, RouterSettings

KEPT_CANDIDATES = 20  # candidates a bounded decision keeps (plus the chosen and previous models)
DIRECT_LIMIT = 48  # with this few eligible models, scoring them all beats walking the cells
SPEED_SPREAD = 3.0  # speed points that differ by at most this share a cell: fewer cells, looser bounds
COST_BANDS = 5  # cost ratio bands per cell (the cost term spans 2 x cost_penalty_points)
_MODEL_ID = attrgetter("model_id")

# A scored model: (-score, model id, points, entry). Sorting these ranks best score first,
# ties by model id; ids are unique, so the points and entries are never compared.
Scored = tuple[float, str, tuple[float, ...], "_Entry"]


class _Entry:
    """A routable model and what scoring it needs."""

    __slots__ = ("features", "image", "model", "model_id", "profile", "tier", "vision", "window")

    def __init__(self, model: ModelConfig, profile: Profile, features: Features) -> None:
        self.model = model
        self.model_id = model.id
        self.profile = profile
        self.features = features
        self.tier = features.tier
        self.window = model.context_window
        self.vision = model.supports_vision
        self.image = model.supports_image_generation


def _speed_groups(values: Iterable[float]) -> dict[float, int]:
    """Speed points → group number; a group spans at most SPEED_SPREAD points."""
    groups: dict[float, int] = {}
    start, number = None, -1
    for value in sorted(set(values)):
        if start is None or value - start > SPEED_SPREAD:
            start, number = value, number + 1
        groups[value] = number
    return groups


def _bounds_of(
    cell: Sequence[_Entry], threshold: int
) -> tuple[str, bool, float, float, float, float, bool, bool]:
    first = cell[0]
    costs = [entry.features.cost_ratio for entry in cell]
    speeds = [entry.features.speed_points for entry in cell]
    return (
        first.tier,
        first.profile.quality >= threshold,
        min(costs),
        max(costs),
        min(speeds),
        max(speeds),
        first.features.thinks,
        first.features.researches,
    )


@dataclass(frozen=True, slots=True, eq=False)
class RoutingIndex:
    """One snapshot's routing data (see the module docstring). Immutable but for its lazy orderings."""

    models: Sequence[ModelConfig]
    profiles: Mapping[str, Profile]
    settings: RouterSettings
    day: date
    by_id: Mapping[str, ModelConfig]
    routable: Mapping[str, _Entry]
    standing_counts: Mapping[str, int]  # reason → models left out whatever the message
    # (tier, vision, image generation, context windows ascending, the entries in that order)
    groups: tuple[tuple[str, bool, bool, list[int], tuple[_Entry, ...]], ...]
    # Cells: routable models of one tier whose message-independent terms have the same bounds.
    cells: tuple[tuple[_Entry, ...], ...]
    # Per cell: (tier, strong (quality >= complex_boost_threshold: the complexity term applies),
    # lowest and highest cost ratio, lowest and highest speed points, thinks, researches).
    cell_bounds: tuple[tuple[str, bool, float, float, float, float, bool, bool], ...]
    max_score: float  # the largest category score of any profile, in magnitude (float slack)
    max_speed: float  # the largest speed points of any model, in magnitude
    # The user tier the index is for: pro models are standing exclusions for the free tier.
    user_tier: str = FREE
    # When the next scheduled price of any model takes effect (its tier and cost term change
    # then, with no write): the index is stale from that moment. None: no price is scheduled.
    prices_until: datetime | None = None
    # The profiles as given (the snapshot's object, the cache's key); ``profiles`` adds the
    # derived ones of the models nobody profiled (:mod:`.derived`).
    given_profiles: Mapping[str, Profile] | None = None
    # (primary, secondary or None) → per cell: its entries by category points (best first, then
    # id) and those points. Built on first use; racing threads build equal lists.
    _orderings: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        models: Sequence[ModelConfig],
        profiles: Mapping[str, Profile],
        settings: RouterSettings,
        *,
        day: date,
        now: datetime | None = None,
        user_tier: str = FREE,
    ) -> RoutingIndex:
        now = now or datetime.now(UTC)
        given, profiles = profiles, with_derived_profiles(models, profiles, settings)
        by_id: dict[str, ModelConfig] = {}
        standing: Counter[str] = Counter()
        routable: dict[str, _Entry] = {}
        for model in models:
            by_id[model.id] = model
            profile = profiles.get(model.id)
            exclusion = standing_exclusion(model, profile=profile, today=day, user_tier=user_tier)
            if exclusion is not None:
                standing[exclusion.reason] += 1
                continue
            assert profile is not None
            routable[model.id] = _Entry(model, profile, features_for(model, settings))

        grouped: dict[tuple[str, bool, bool], list[_Entry]] = {}
        for entry in routable.values():
            grouped.setdefault((entry.tier, entry.vision, entry.image), []).append(entry)
        groups = []
        for (tier, vision, image), entries in sorted(grouped.items()):
            entries.sort(key=lambda entry: (entry.window, entry.model_id))
            groups.append((tier, vision, image, [entry.window for entry in entries], tuple(entries)))

        speed_group = _speed_groups(entry.features.speed_points for entry in routable.values())
        threshold = settings.complex_boost_threshold
        celled: dict[tuple, list[_Entry]] = {}
        for entry in routable.values():
            features = entry.features
            key = (
                entry.tier,
                entry.profile.quality >= threshold,
                features.thinks,
                features.researches,
                speed_group[features.speed_points],
                int(features.cost_ratio * COST_BANDS),
            )
            celled.setdefault(key, []).append(entry)
        cells = tuple(tuple(entries) for _, entries in sorted(celled.items()))
        features_of = [entry.features for entry in routable.values()]
        return cls(
            models=models,
            profiles=profiles,
            settings=settings,
            day=day,
            by_id=by_id,
            routable=routable,
            standing_counts=dict(standing),
            groups=tuple(groups),
            cells=cells,
            cell_bounds=tuple(_bounds_of(cell, threshold) for cell in cells),
            max_score=float(
                max(
                    (abs(score) for entry in routable.values() for score in entry.profile.scores.values()),
                    default=0,
                )
            ),
            max_speed=max((abs(features.speed_points) for features in features_of), default=0.0),
            prices_until=_next_price_change(models, now),
            user_tier=user_tier,
            given_profiles=given,
        )

    def ordering(self, primary: str, secondary: str | None) -> list[tuple[tuple[_Entry, ...], array]]:
        """Per cell, its entries by category points for this pair (best first, then id), and the points.

        ``secondary`` is ``None`` when it adds nothing (no secondary category, or a zero share).
        """
        key = (primary, secondary)
        found = self._orderings.get(key)
        if found is not None:
            return found
        share = self.settings.secondary_share if secondary is not None else 0.0
        found = []
        for cell in self.cells:
            ranked = []
            for entry in cell:
                scores = entry.profile.scores
                # score_points's arithmetic exactly: the same float for the same model.
                category = float(scores.get(primary, 0))
                if share:
                    category += share * scores.get(secondary, 0)
                ranked.append((-category, entry.model_id, entry))
            ranked.sort()
            found.append((tuple(item[2] for item in ranked), array("d", [-item[0] for item in ranked])))
        self._orderings[key] = found
        return found

    def fit_counts(
        self, classification: Classification, needed_window: int
    ) -> tuple[dict[str, int], Counter[str]]:
        """Eligible routable models per tier, and the routable ones each message rule leaves out.

        The rules in :func:`.engine.fit_exclusion`'s order, by bisection of the context windows.
        """
        needs_vision = classification.needs_vision
        long_window = self.settings.long_context_threshold if classification.needs_long_context else 0
        needs_image = classification.needs_image_generation
        eligible = dict.fromkeys(TIERS, 0)
        counts: Counter[str] = Counter()
        for tier, vision, image, windows, _ in self.groups:
            fits = bisect_left(windows, needed_window)
            counts[CONTEXT_WINDOW] += fits
            left = len(windows) - fits
            if needs_vision and not vision:
                counts[NO_VISION] += left
                continue
            if long_window:
                long_enough = max(bisect_left(windows, long_window), fits)
                counts[SHORT_CONTEXT] += long_enough - fits
                left = len(windows) - long_enough
            if needs_image and not image:
                counts[NO_IMAGE_GENERATION] += left
                continue
            if image and not needs_image:
                counts[IMAGE_GENERATION] += left
                continue
            eligible[tier] += left
        return eligible, counts


# --- the cache: a few live snapshots ------------------------------------------------------

# A few combinations are live at once (the database's catalog and config, the defaults during a
# rollout, the static catalog); older ones are dropped. Rebound whole, so reads need no lock.
_indexes: tuple[RoutingIndex, ...] = ()
INDEXES_KEPT = 12  # two user tiers
_build_lock = threading.Lock()


def routing_index_for(
    models: Sequence[ModelConfig],
    profiles: Mapping[str, Profile],
    settings: RouterSettings,
    *,
    day: date,
    now: datetime | None = None,
    user_tier: str = FREE,
) -> RoutingIndex:
    """The index of these snapshot objects on ``day`` for ``user_tier``: built on first use, reused
    while they are the same.

    Keyed on identity: ``models`` (a catalog index's tuple), ``profiles`` and ``settings``
    are immutable snapshots, replaced (not changed) on a write; and rebuilt once a scheduled
    price takes effect (``now``, default the current time).
    """
    global _indexes
    now = now or datetime.now(UTC)
    for index in _indexes:
        if (
            index.day == day
            and index.user_tier == user_tier
            and _current(index, now)
            and _same_snapshot(index, models, profiles, settings)
        ):
            return index
    with _build_lock:  # one thread builds, the others wait for it rather than build the same
        for index in _indexes:
            if (
                index.day == day
                and index.user_tier == user_tier
                and _current(index, now)
                and _same_snapshot(index, models, profiles, settings)
            ):
                return index
        index = RoutingIndex.build(models, profiles, settings, day=day, now=now, user_tier=user_tier)
        # The same snapshot on an earlier day (or stale prices) is stale; the other tier's is kept.
        others = tuple(
            kept
            for kept in _indexes
            if not _same_snapshot(kept, models, profiles, settings)
            or (kept.user_tier != user_tier and kept.day == day and _current(kept, now))
        )
        _indexes = (index, *others)[:INDEXES_KEPT]
        return index


def _current(index: RoutingIndex, now: datetime) -> bool:
    return index.prices_until is None or now < index.prices_until


def _next_price_change(models: Sequence[ModelConfig], now: datetime) -> datetime | None:
    upcoming = [
        entry.effective_from
        for model in models
        if model.price_schedule
        for entry in model.price_schedule
        if entry.effective_from > now
    ]
    return min(upcoming, default=None)


def _same_snapshot(
    index: RoutingIndex,
    models: Sequence[ModelConfig],
    profiles: Mapping[str, Profile],
    settings: RouterSettings,
) -> bool:
    return index.models is models and index.given_profiles is profiles and index.settings is settings


def clear_routing_indexes() -> None:
    """Forget every cached index (tests)."""
    global _indexes
    _indexes = ()


# --- the bounded search ------------------------------------------------------------------------


class _Search:
    """Best-first walk over the cells of one ordering; see the module docstring.

    The heap holds one item per cell with models left: (-bound, cell number, position).
    A cell's bound comes from the model at its position, eligible or not (the models after
    it score at most as much); an ineligible one is skipped when its cell comes up.
    """

    def __init__(
        self,
        index: RoutingIndex,
        context: Context,
        *,
        min_window: int,
        needs_vision: bool,
        needs_image: bool,
        skip: Collection[str],
    ) -> None:
        share = context.secondary_share
        classification = context.classification
        self.lists = index.ordering(classification.primary, classification.secondary if share else None)
        self.context = context
        self.min_window = min_window
        self.needs_vision = needs_vision
        self.needs_image = needs_image
        self.skip = skip
        cost, speed = context.cost_factor, context.speed_factor
        reasoning, research = context.reasoning_points, context.research_points
        boosted = 1.0 + context.complexity_factor
        # Float rounding may put an exact score a few ulps above the same terms' bounds added up.
        slack = 1e-9 * (
            1.0
            + index.max_score * (1.0 + abs(share)) * max(1.0, abs(boosted))
            + abs(cost)
            + abs(speed) * index.max_speed
            + abs(reasoning)
            + abs(research)
        )
        cost_at = 2 if cost <= 0 else 3  # the cost ratio (cell's lowest or highest) that bounds the cost term
        speed_at = 5 if speed >= 0 else 4
        # Per cell: (multiplier of its category points, bound of its other terms, bound of its
        # category terms when the multiplier is negative: at its lowest category points).
        self.shapes: list[tuple[float, float, float]] = []
        heap = []
        for number, ((_, points), bounds) in enumerate(zip(self.lists, index.cell_bounds, strict=True)):
            multiplier = boosted if bounds[1] else 1.0
            rest = (
                cost * bounds[cost_at]
                + speed * bounds[speed_at]
                + (reasoning if bounds[6] else 0.0)
                + (research if bounds[7] else 0.0)
                + slack
            )
            floor = points[-1] * multiplier
            self.shapes.append((multiplier, rest, floor))
            heap.append((-((points[0] * multiplier if multiplier >= 0 else floor) + rest), number, 0))
        heapify(heap)
        self.heap = heap
        self.tiers = [bounds[0] for bounds in index.cell_bounds]

    def _push(self, heap: list[tuple[float, int, int]], number: int, position: int) -> None:
        multiplier, rest, floor = self.shapes[number]
        points = self.lists[number][1]
        if position < len(points):
            category = points[position] * multiplier if multiplier >= 0 else floor
            heappush(heap, (-(category + rest), number, position))

    def _pop(self, heap: list[tuple[float, int, int]]) -> Scored | None:
        """Score the best-bounded cell's model, or move the cell on to its next eligible one (``None``)."""
        _, number, position = heappop(heap)
        entries = self.lists[number][0]
        entry = entries[position]
        if not (
            entry.window >= self.min_window
            and (entry.vision or not self.needs_vision)
            and entry.image == self.needs_image
            and entry.model_id not in self.skip
        ):
            self._push(heap, number, self._eligible_from(entries, position + 1))
            return None
        self._push(heap, number, position + 1)
        points = score_points(entry.model_id, entry.profile, entry.features, self.context)
        return (-sum(points), entry.model_id, points, entry)

    def _eligible_from(self, entries: tuple[_Entry, ...], position: int) -> int:
        """The first position from ``position`` whose model passes this message's rules."""
        min_window, needs_vision, needs_image, skip = (
            self.min_window,
            self.needs_vision,
            self.needs_image,
            self.skip,
        )
        end = len(entries)
        while position < end:
            entry = entries[position]
            if (
                entry.window >= min_window
                and (entry.vision or not needs_vision)
                and entry.image == needs_image
                and entry.model_id not in skip
            ):
                return position
            position += 1
        return end

    def best(self, keep: int, top: list[Scored], best_of_tier: dict[str, Scored]) -> None:
        """Fill ``top`` with the ``keep`` best models (sorted) and note each tier's best found."""
        heap = self.heap
        while heap:
            if len(top) >= keep and -heap[0][0] < -top[keep - 1][0]:
                break  # no model left can reach the k-th score, nor tie it
            scored = self._pop(heap)
            if scored is None:
                continue
            if len(top) < keep or scored < top[-1]:
                insort(top, scored)
                del top[keep:]
            tier = scored[3].tier
            if tier not in best_of_tier or scored < best_of_tier[tier]:
                best_of_tier[tier] = scored

    def best_in(self, tier: str, best_of_tier: dict[str, Scored]) -> Scored:
        """The best model of ``tier``: the walk goes on over that tier's cells only."""
        heap = [item for item in self.heap if self.tiers[item[1]] == tier]
        heapify(heap)
        while heap:
            found = best_of_tier.get(tier)
            if found is not None and -heap[0][0] < -found[0]:
                break
            scored = self._pop(heap)
            if scored is not None and (found is None or scored < found):
                best_of_tier[tier] = scored
        return best_of_tier[tier]


def _score_all(
    index: RoutingIndex,
    context: Context,
    *,
    min_window: int,
    needs_vision: bool,
    needs_image: bool,
    skip: Collection[str],
) -> list[Scored]:
    """Every eligible model scored (few of them: the groups' window suffixes)."""
    found = []
    for _, vision, image, windows, entries in index.groups:
        if (needs_vision and not vision) or image != needs_image:
            continue
        for entry in entries[bisect_left(windows, min_window) :]:
            if entry.model_id in skip:
                continue
            points = score_points(entry.model_id, entry.profile, entry.features, context)
            found.append((-sum(points), entry.model_id, points, entry))
    return found


def decide_bounded(
    message: str,
    *,
    index: RoutingIndex,
    classification: Classification,
    previous_model_id: str | None = None,
    context_tokens: int = 0,
    cost_bias: int = NEUTRAL_BIAS,
    speed_bias: int = NEUTRAL_BIAS,
    exclude: Collection[str] = (),
    seed_key: str | None = None,
    has_attachments: bool = False,
    source: str = "defaults",
    classifier: str = "local",
    classifier_fallback: str | None = None,
    keep: int = KEPT_CANDIDATES,
) -> Decision:
    """:func:`.engine.decide` over ``index``: the same chosen model, tier, roll and counts, bounded work.

    The decision keeps the ``keep`` best candidates (plus the chosen and previous models if
    they rank lower), counts the exclusions per reason, and lists only the exclusions of the
    models the caller named (``exclude``, the previous model).
    """
    check_arguments(cost_bias, speed_bias, context_tokens)
    if keep < 1:
        raise ValueError("keep at least one candidate")
    settings = index.settings
    exclude = frozenset(exclude)
    key = seed_key if seed_key is not None else message_key(message)
    roll = roll_for(key)
    needed_window = required_context(context_tokens, settings)
    context = context_for(
        classification,
        settings,
        previous_model_id=previous_model_id,
        cost_bias=cost_bias,
        speed_bias=speed_bias,
    )
    eligible, counts = index.fit_counts(classification, needed_window)
    counts.update(index.standing_counts)

    def exclusion(model: ModelConfig, excluded: Collection[str]) -> Exclusion | None:
        return exclusion_for(
            model,
            classification,
            settings,
            profile=index.profiles.get(model.id),
            exclude=excluded,
            needed_window=needed_window,
            today=index.day,
            user_tier=index.user_tier,
        )

    # The models the caller named: listed, and moved from the count they were in to "excluded".
    named: list[Exclusion] = []
    for model_id in exclude:
        model = index.by_id.get(model_id)
        if model is None:
            continue  # not in the catalog: nothing was left out
        named.append(exclusion(model, exclude))
        otherwise = exclusion(model, ())
        if otherwise is None:
            eligible[index.routable[model_id].tier] -= 1
        else:
            counts[otherwise.reason] -= 1
        counts[EXCLUDED] += 1
    previous: Scored | None = None
    if previous_model_id is not None and previous_model_id not in exclude:
        model = index.by_id.get(previous_model_id)
        if model is not None:
            left_out = exclusion(model, ())
            if left_out is not None:
                named.append(left_out)
            else:
                entry = index.routable[previous_model_id]
                points = score_points(entry.model_id, entry.profile, entry.features, context)
                previous = (-sum(points), entry.model_id, points, entry)
    named.sort(key=_MODEL_ID)
    eligible_count = sum(eligible.values())

    top: list[Scored] = [previous] if previous is not None else []
    best_of_tier: dict[str, Scored] = {previous[3].tier: previous} if previous is not None else {}
    search: _Search | None = None
    if eligible_count:
        rules = {
            "min_window": (
                max(needed_window, settings.long_context_threshold)
                if classification.needs_long_context
                else needed_window
            ),
            "needs_vision": classification.needs_vision,
            "needs_image": classification.needs_image_generation,
            "skip": exclude | {previous_model_id} if previous_model_id is not None else exclude,
        }
        if eligible_count <= DIRECT_LIMIT:
            top += _score_all(index, context, **rules)
            top.sort()
            for scored in reversed(top):
                best_of_tier[scored[3].tier] = scored
            del top[keep:]
        else:
            search = _Search(index, context, **rules)
            search.best(keep, top, best_of_tier)

    chosen: Scored | None = None
    sticky = False
    tier: str | None = None
    fallback_reason: str | None = None
    if classification.action == "keep" and previous is not None:
        chosen, sticky, tier, tier_reason = previous, True, previous[3].tier, "sticky: previous model kept"
    else:
        tier, tier_reason = pick_tier(
            classification, settings, roll, [name for name, count in eligible.items() if count > 0]
        )
        if tier is None:
            fallback_reason = fallback_reason_for(len(index.models), sum(counts.values()))
        else:
            chosen = next((scored for scored in top if scored[3].tier == tier), None)
            if chosen is None:
                chosen = search.best_in(tier, best_of_tier) if search is not None else best_of_tier[tier]

    kept = {scored[1]: scored for scored in (*top, chosen, previous) if scored is not None}
    candidates = tuple(
        Candidate(
            entry.model,
            entry.tier,
            entry.features.average_price,
            points,
            entry.profile,
            entry.features,
            context,
        )
        for _, _, points, entry in sorted(kept.values())
    )
    chosen_candidate = next((c for c in candidates if chosen is not None and c.model_id == chosen[1]), None)
    return build_decision(
        message,
        settings=settings,
        classification=classification,
        chosen=chosen_candidate,
        sticky=sticky,
        tier=tier,
        tier_reason=tier_reason,
        fallback_reason=fallback_reason,
        model=chosen[3].model if chosen is not None else index.by_id.get(settings.fallback_model_id),
        candidates=candidates,
        excluded=tuple(named),
        eligible_count=eligible_count,
        excluded_counts=counted(counts),
        roll=roll,
        seed_key=key,
        inputs=inputs_of(
            previous_model_id=previous_model_id,
            has_attachments=has_attachments,
            context_tokens=context_tokens,
            cost_bias=cost_bias,
            speed_bias=speed_bias,
            exclude=exclude,
            seed_key=seed_key,
            user_tier=index.user_tier,
        ),
        source=source,
        classifier=classifier,
        classifier_fallback=classifier_fallback,
    )
