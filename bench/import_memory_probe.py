"""A JSON import of N new models through the admin (preview, then confirm), in a process of its own.

    DATABASE_URL=... .venv/bin/python bench/import_memory_probe.py 5000 [new|changed]

Run by ``catalog_scale_bench.py`` against its throwaway database (the synthetic catalog in
place): ``new`` imports the synthetic models under new ids, ``changed`` re-imports the existing
ones with every input price moved. Prints the process's resident memory before the upload and
its peak (``ru_maxrss``: the whole process, Django included), the pages' sizes and times.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from decimal import Decimal

from _bench_setup import start_django

start_django("import-memory-probe")

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from synthetic_catalog import synthetic_document


def rss_mb() -> float:
    """The process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def entries_for(size: int, kind: str) -> list[dict]:
    entries = synthetic_document(size)["models"]
    if kind == "new":
        return [{**entry, "id": entry["id"] + "-imported"} for entry in entries]
    return [
        {**entry, "pricing": {**entry["pricing"], "input": str(Decimal(entry["pricing"]["input"]) + 1)}}
        for entry in entries
    ]


def main() -> None:
    size, kind = int(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else "new")
    setup_test_environment()  # the test client's host, 'testserver', is allowed
    user, _ = get_user_model().objects.get_or_create(username="import-bench", defaults={"is_superuser": True})
    user.is_superuser = user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    content = json.dumps(entries_for(size, kind)).encode()
    before = current_rss_mb()
    start = time.perf_counter()
    upload = SimpleUploadedFile("catalog.json", content, content_type="application/json")
    preview = client.post(
        reverse("admin:models_registry_aimodel_import"),
        {"import_file": upload, "format": "0", "resource": "0", "reason": "bench: import"},
    )
    preview_s = time.perf_counter() - start
    form = preview.context_data.get("confirm_form") if preview.context_data else None
    if form is None:
        print(f"refused: {preview.status_code}")
        return
    data = {name: form[name].value() for name in form.fields}
    start = time.perf_counter()
    done = client.post(reverse("admin:models_registry_aimodel_process_import"), data)
    confirm_s = time.perf_counter() - start
    print(
        f"{size:,} {kind} rows ({len(content) / 1e6:.1f} MB file): peak RSS {rss_mb():.0f} MB "
        f"(resident before the upload {before:.0f} MB; target ≤ 300 MB)"
    )
    print(
        f"preview {preview_s:.1f} s, {len(preview.content) / 1024:.0f} KB of HTML; "
        f"confirm {confirm_s:.1f} s (status {done.status_code})"
    )


if __name__ == "__main__":
    main()
