"""Where the router's parameters and profiles come from, per subject.

The ``use_db_router_config`` rollout flag decides per subject: on, the
database (``RouterConfig`` and ``ModelProfile`` rows, held in a
:class:`~models_registry.read.snapshot.VersionedSnapshot`, so no query per message
and admin edits show within ``REGISTRY_REFRESH_SECONDS``); off, the built-in
defaults (:mod:`autorouter.defaults`). If the database was never readable the
defaults serve, with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

from models_registry.read.snapshot import SnapshotUnavailable, VersionedSnapshot
from models_registry.rollout.flags import flag_is_active

from .defaults import DEFAULT_SETTINGS, default_profiles
from .flags import ROUTER_CONFIG_FLAG
from .types import CATEGORIES, ROUTER_AREA, Profile, RouterSettings

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
