"""Catalog admin benchmark: JSON import and export of 5,000 models, and the model list at 5,000.

    .venv/bin/python bench/admin_bench.py            # SQLite in a temporary file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench .venv/bin/python bench/admin_bench.py

Everything goes through the admin with Django's test client, as a browser
would: upload (validation and preview), confirm (the one-transaction write
with history), the export download, and the model list page. With
``DATABASE_URL`` set, a throwaway ``test_<name>`` database is created next to
the named one and dropped at the end; without it a temporary SQLite file is
used.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

from _bench_setup import start_django, throwaway_database

start_django("admin-bench")

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.urls import reverse

from models_registry.catalog.services import seed_models
from models_registry.domain.static_catalog import load_static_catalog
from models_registry.models import AIModel

COUNT = 5_000
LIST_ROUNDS = 7


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_entries(catalog) -> list[dict]:
    """COUNT import-file objects, modelled on the static catalog's entries."""
    templates = [model.to_dict() for model in catalog.models]
    entries = []
    for n in range(COUNT):
        entry = dict(templates[n % len(templates)])
        entry.pop("provider_name")
        entry["id"] = f"{entry['provider']}:bench-{n:05d}"
        entry["name"] = f"Bench model {n}"
        entries.append(entry)
    return entries


def admin_import(client: Client, entries: list[dict], name: str) -> tuple[float, float, str]:
    """Upload + preview, then confirm. Returns both durations and the success message."""
    upload = SimpleUploadedFile(name, json.dumps(entries).encode(), content_type="application/json")
    preview_s, preview = timed(
        lambda: client.post(
            reverse("admin:models_registry_aimodel_import"),
            {"import_file": upload, "format": "0", "resource": "0"},
        )
    )
    form = preview.context["confirm_form"]
    assert form is not None, "the preview refused the file"
    data = {field: form[field].value() for field in form.fields}
    confirm_s, done = timed(
        lambda: client.post(reverse("admin:models_registry_aimodel_process_import"), data, follow=True)
    )
    message = " ".join(str(m) for m in done.context["messages"])
    return preview_s, confirm_s, message


def main() -> None:
    setup_test_environment()  # lets the client see response contexts (the preview's confirm form)
    with throwaway_database():
        run()


def report(label: str, text: str) -> None:
    print(f"{label:<36}{text}")


def import_line(preview_s: float, confirm_s: float, message: str) -> str:
    return f"preview {preview_s:6.2f} s, confirm {confirm_s:6.2f} s   ({message})"


def run() -> None:
    catalog = load_static_catalog()
    seed_models(catalog.models, provider_names=catalog.providers)
    user = get_user_model().objects.create_superuser("bench", password="bench-password")
    client = Client()
    client.force_login(user)
    report("database", f"{connection.vendor}, {AIModel.objects.count()} seeded models")

    entries = bench_entries(catalog)
    report(f"import {COUNT} new models", import_line(*admin_import(client, entries, "bench-5000.json")))

    for entry in entries:
        entry["pricing"] = {**entry["pricing"], "input": "9.99"}
    report(f"import {COUNT} updates, same price", import_line(*admin_import(client, entries, "same.json")))

    for n, entry in enumerate(entries):  # the worst case: every row gets its own value
        entry["pricing"] = {**entry["pricing"], "input": f"{n}.25"}
    report(f"import {COUNT} updates, own prices", import_line(*admin_import(client, entries, "own.json")))

    export_s, response = timed(lambda: client.get(reverse("admin:models_registry_aimodel_export")))
    exported = json.loads(response.content)
    report(f"export {len(exported)} models", f"{export_s:6.2f} s   ({len(response.content) / 1e6:.1f} MB)")

    report("re-import the export (no-op)", import_line(*admin_import(client, exported, "export.json")))

    changelist = reverse("admin:models_registry_aimodel_changelist")
    client.get(changelist)  # warm the template cache
    samples = []
    for _ in range(LIST_ROUNDS):
        with CaptureQueriesContext(connection) as queries:
            seconds, _ = timed(lambda: client.get(changelist))
        samples.append(seconds)
    report(
        f"model list at {AIModel.objects.count()} models",
        f"median {statistics.median(samples) * 1000:6.1f} ms over {LIST_ROUNDS} renders, "
        f"{len(queries)} queries per render",
    )
    seconds, _ = timed(lambda: client.get(changelist + "?supports_vision__exact=1&q=bench"))
    report("model list, filtered + search", f"{seconds * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
