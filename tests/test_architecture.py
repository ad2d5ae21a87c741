"""Layering rules the code relies on, checked in a fresh interpreter."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PURE_MODULES = [
    "models_registry.types",
    "models_registry.reasoning",
    "models_registry.pricing",
    "models_registry.catalog_index",
    "models_registry.parity",
    "models_registry.imports",
    "models_registry.static_catalog",
    "autorouter.classifier",
    "autorouter.scoring",
    "autorouter.tiers",
    "autorouter.engine",
    "autorouter.decision",
]


def _modules_loaded_by(imports: list[str]) -> set[str]:
    code = "import sys\n" + "".join(f"import {name}\n" for name in imports) + "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_pure_logic_does_not_load_the_orm():
    loaded = _modules_loaded_by(PURE_MODULES)
    assert "django.db.models" not in loaded
    assert "django.db" not in loaded


def test_models_registry_never_imports_autorouter():
    offenders = [
        path
        for path in (ROOT / "models_registry").rglob("*.py")
        if "import autorouter" in path.read_text() or "from autorouter" in path.read_text()
    ]
    assert offenders == []
