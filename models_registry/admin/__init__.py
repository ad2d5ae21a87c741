"""Admin registrations, one module per area.

``catalog``: models and providers. ``rollout``: rollout flags and the rollout page.
``sync``: sync runs, their proposed changes and the id mappings of the upstream sources.
"""

from models_registry.admin import catalog, changelog, rollout, sync  # noqa: F401  (imported for their registrations)
