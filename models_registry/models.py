"""Django's entry point for the app's tables; each is defined in the package it belongs to."""

from models_registry.catalog.models import AIModel, Gateway, ImportUpload, ModelStatus, Provider, SpeedTier
from models_registry.domain.types import CAPABILITY_FIELDS
from models_registry.read.models import SnapshotVersion
from models_registry.rollout.models import RolloutFlag
from models_registry.sync.models import ProposedChange, SourceMapping, SyncRun
from models_registry.usage.models import UsageRecord, UsageRollup, UsageSubjectRollup

__all__ = [
    "CAPABILITY_FIELDS",
    "AIModel",
    "Gateway",
    "ImportUpload",
    "ModelStatus",
    "ProposedChange",
    "Provider",
    "RolloutFlag",
    "SnapshotVersion",
    "SourceMapping",
    "SpeedTier",
    "SyncRun",
    "UsageRecord",
    "UsageRollup",
    "UsageSubjectRollup",
]
