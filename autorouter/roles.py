"""What the registry roles may do with the router (see :mod:`models_registry.roles`).

Editors view and change the router config, view, add and change model
profiles (a new catalog model needs a profile before the router picks it),
use the "Try the router" page, read the decision log, and make, replay and
publish router drafts, and teach the classifier examples. Viewers view only.
Granted by migration 0002 and re-applied after every ``migrate`` (declared in
``AutorouterConfig.ready``).
"""

from __future__ import annotations

_APP = "autorouter"

ROUTER_VIEWER_PERMISSIONS: list[tuple[str, str]] = [
    (_APP, "view_routerconfig"),
    (_APP, "view_modelprofile"),
    (_APP, "view_decisionlog"),
    (_APP, "view_routerdraft"),
    (_APP, "view_routerexample"),
]
ROUTER_EDITOR_PERMISSIONS: list[tuple[str, str]] = [
    *ROUTER_VIEWER_PERMISSIONS,
    (_APP, "change_routerconfig"),
    (_APP, "try_router"),
    (_APP, "add_modelprofile"),
    (_APP, "change_modelprofile"),
    (_APP, "add_routerdraft"),
    (_APP, "change_routerdraft"),
    (_APP, "publish_routerdraft"),
    (_APP, "add_routerexample"),
    (_APP, "change_routerexample"),
]
