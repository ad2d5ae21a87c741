"""Admin registrations, one module per area.

``catalog``: models and providers. ``rollout``: rollout flags and the rollout page.
"""

from models_registry.admin import catalog, changelog, rollout  # noqa: F401  (imported for their registrations)
