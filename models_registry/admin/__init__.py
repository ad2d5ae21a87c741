"""Admin registrations, one module per area.

``catalog``: models and providers. ``rollout``: rollout flags and the rollout page.
``sync``: sync runs, their proposed changes and the id mappings of the upstream sources.
``usage``: the usage dashboard, and the landing page's headline figures.
"""

from models_registry.admin import catalog, changelog, rollout, sync, usage  # noqa: F401  (imported for their registrations)
