"""Where an import file waits between preview and confirm: a database row named by a random token.

django-import-export keeps the upload in a "temporary storage" between the
preview and the confirm request. Its folder storage names the file by a path
the browser sends back, and its cache storage needs Redis to be up; this one
works on any worker, with or without Redis, and accepts only tokens it issued.

An upload is deleted when its import is confirmed or cancelled, when its
preview is refused, when a later upload finds it older than
``IMPORT_UPLOAD_TTL_SECONDS`` (it can no longer be confirmed then), and by
``manage.py cleanup_import_uploads`` (run periodically) once older than
``IMPORT_UPLOAD_MAX_AGE_HOURS``.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from import_export.tmp_storages import BaseStorage

from models_registry.catalog.models import ImportUpload
from models_registry.domain.imports import ImportFileError

TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _expired_before() -> Any:
    return timezone.now() - timedelta(seconds=int(getattr(settings, "IMPORT_UPLOAD_TTL_SECONDS", 7200)))


class DatabaseUploadStorage(BaseStorage):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._text: str | None = None

    def save(self, data: str | bytes) -> None:
        ImportUpload.objects.filter(created_at__lt=_expired_before()).delete()  # previews never confirmed
        if isinstance(data, bytes):
            try:
                data = data.decode(self.encoding or "utf-8-sig")
            except UnicodeDecodeError:
                raise ImportFileError("The file is not UTF-8 text.") from None
        self.name = uuid.uuid4().hex
        ImportUpload.objects.create(token=self.name, data=data)
        # The preview reads it right back: hand over this copy instead of loading another.
        self._text = data

    def read(self) -> str | None:
        """The upload's text, or ``None`` if the token is unknown, expired or malformed."""
        if self._text is not None:
            text, self._text = self._text, None  # the storage keeps no copy once read
            return text
        if not isinstance(self.name, str) or not TOKEN.match(self.name):
            return None
        upload = (
            ImportUpload.objects.filter(token=self.name, created_at__gte=_expired_before())
            .values_list("data", flat=True)
            .first()
        )
        return upload

    def remove(self) -> None:
        self._text = None
        if isinstance(self.name, str) and TOKEN.match(self.name):
            ImportUpload.objects.filter(token=self.name).delete()
