"""Where the router's parameters and profiles come from, per subject.

The ``use_db_router_config`` rollout flag decides per subject: on, the
database (``RouterConfig`` and ``ModelProfile`` rows, held in a
:class:`~models_registry.read.snapshot.VersionedSnapshot`, so no query per message
and admin edits show within ``REGISTRY_REFRESH_SECONDS``); off, the built-in
defaults (:mod:`autorouter.defaults`). If the database was never readable the
defaults serve, with a note.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from models_registry.read.snapshot import SnapshotUnavailable, VersionedSnapshot
from models_registry.rollout.flags import flag_is_active

from .defaults import DEFAULT_SETTINGS, default_profiles
from .flags import ROUTER_CONFIG_FLAG
from .semantic import Example, SemanticModel, load_embedder, train
from .types import CATEGORIES, ROUTER_AREA, Profile, RouterSettings

logger = logging.getLogger(__name__)

DATABASE, DEFAULTS, DRAFT = "database", "defaults", "draft"
Source = Literal["database", "defaults", "draft"]  # a draft: only replayed and evaluated


@dataclass(frozen=True, slots=True)
class RouterState:
    settings: RouterSettings
    profiles: Mapping[str, Profile]
    source: Source
    note: str = ""


@lru_cache(maxsize=1)
def default_state() -> RouterState:
    return RouterState(DEFAULT_SETTINGS, default_profiles(), DEFAULTS)


def _load_database_state() -> RouterState:
    from .conversions import settings_from_row
    from .models import SINGLETON_ID, ModelProfile, RouterConfig

    notes = []
    row = RouterConfig.objects.filter(pk=SINGLETON_ID).first()
    if row is None:
        settings = DEFAULT_SETTINGS
        notes.append("router config not seeded: built-in parameters")
    else:
        settings = settings_from_row(row)
    profiles: Mapping[str, Profile] = MappingProxyType(
        {
            model_id: Profile(quality=quality, scores=dict(zip(CATEGORIES, scores, strict=True)))
            for model_id, quality, *scores in ModelProfile.objects.values_list(
                "model_id", "quality", *CATEGORIES
            )
        }
    )
    if not profiles:
        profiles = default_profiles()
        notes.append("no profiles in the database: built-in profiles")
    return RouterState(settings, profiles, DATABASE, "; ".join(notes))


database_snapshot: VersionedSnapshot[RouterState] = VersionedSnapshot(
    _load_database_state, name="autorouter", area=ROUTER_AREA
)


def database_state() -> RouterState:
    """The saved config and profiles (the last good ones if the database is unreachable)."""
    try:
        return database_snapshot.get()
    except SnapshotUnavailable:
        return replace(default_state(), note="database unreachable: built-in defaults")


def state_for(subject: Any = None) -> RouterState:
    """The state ``subject`` is routed with: the database's if the flag is on for it, else the defaults."""
    return database_state() if flag_is_active(ROUTER_CONFIG_FLAG, subject) else default_state()


def state_from(source: str, subject: Any = None) -> RouterState:
    """``"database"``, ``"defaults"`` or ``"rollout"`` (the flag decides), for the admin and the CLI."""
    if source == DATABASE:
        return database_state()
    if source == DEFAULTS:
        return default_state()
    if source == "rollout":
        return state_for(subject)
    raise ValueError(f"unknown source {source!r}: use database, defaults or rollout")


# --- the semantic classifier's trained model ----------------------------------------------------

EXAMPLES_AREA = "router_examples"


def _example_files() -> list[tuple[Path, str | None]]:
    """The built-in example files and the split of each to learn from (``AUTOROUTER_EXAMPLE_FILES``)."""
    from django.conf import settings as django_settings

    return [(Path(path), split) for path, split in getattr(django_settings, "AUTOROUTER_EXAMPLE_FILES", [])]


def _file_examples() -> tuple[Example, ...]:
    """The built-in examples: read once per process and set of files (they do not change while it
    runs), not again at each retraining on an editor's example."""
    return _read_example_files(tuple(_example_files()))


@lru_cache(maxsize=4)
def _read_example_files(files: tuple[tuple[Path, str | None], ...]) -> tuple[Example, ...]:
    from .evaluation import read_dataset_file

    examples = []
    for path, split in files:
        if not path.exists():
            logger.warning("autorouter: example file %s is missing; the classifier learns without it", path)
            continue
        for item in read_dataset_file(path, split=split):
            examples.append(Example(item.prompt, item.category or "", item.complexity or ""))
    return tuple(example for example in examples if example.category)


def _train(extra: list[Example]) -> SemanticModel | None:
    embed = load_embedder()
    if embed is None:
        return None
    return train([*_file_examples(), *extra], embed)


def _load_semantic_model() -> SemanticModel | None:
    from .models import RouterExample

    taught = [
        Example(text, category, complexity)
        for text, category, complexity in RouterExample.objects.filter(is_active=True).values_list(
            "text", "category", "complexity"
        )
    ]
    return _train(taught)


semantic_snapshot: VersionedSnapshot[SemanticModel | None] = VersionedSnapshot(
    _load_semantic_model, name="autorouter-semantic", area=EXAMPLES_AREA
)


@lru_cache(maxsize=1)
def _built_in_model() -> SemanticModel | None:
    return _train([])


def semantic_model() -> SemanticModel | None:
    """The semantic classifier trained on the built-in and the taught examples (the built-in ones
    only while the database is unreachable); ``None`` if the embedding package cannot load."""
    try:
        return semantic_snapshot.get()
    except SnapshotUnavailable:
        return _built_in_model()
