"""Data migration helper: number the versions recorded before the version column and change log existed.

For one audited table it numbers each object's simple-history rows 1..n (in
time order), sets the object's ``version`` to n, and writes one change-log
record per historical row with the user's name, the reason and the field
diff, so no earlier edit is missing from the change log. Rows written with the
same user, reason and second share a change set (a seed or an import).
Runs on the migration's historical models only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from models_registry.audit.values import describe_value

EXCLUDED = {"id", "version", "created_at", "updated_at", "created_by", "updated_by", "created", "modified"}


def _label(row: Any) -> str:
    for name in ("name", "model_id", "slug"):
        value = getattr(row, name, None)
        if value:
            return str(value)
    return str(row.pk)


def backfill(
    apps: Any,
    app_label: str,
    model_name: str,
    object_repr: Callable[[Any], str],
    *,
    set_cache: dict | None = None,
) -> None:
    model = apps.get_model(app_label, model_name)
    history = apps.get_model(app_label, f"Historical{model_name}")
    content_type_model = apps.get_model("contenttypes", "ContentType")
    change_set_model = apps.get_model("models_registry", "ChangeSet")
    change_record_model = apps.get_model("models_registry", "ChangeRecord")
    user_model = history._meta.get_field("history_user").related_model
    content_type, _ = content_type_model.objects.get_or_create(app_label=app_label, model=model_name.lower())
    pk_name = model._meta.pk.attname
    # Columns history does not keep (the catalog revision stamp) have nothing to diff.
    kept = {f.name for f in history._meta.concrete_fields}
    fields = [
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in EXCLUDED and f.name in kept
    ]
    related = {
        f.attname: {
            getattr(r, f.target_field.attname): _label(r) for r in f.related_model._default_manager.all()
        }
        for f in fields
        if f.is_relation
    }
    names = {user.pk: str(getattr(user, "username", user.pk)) for user in user_model._default_manager.all()}
    sets = set_cache if set_cache is not None else {}

    def display(field: Any, value: Any) -> str:
        if field.is_relation and value is not None:
            return related[field.attname].get(value, str(value))
        return describe_value(value)

    latest: dict[Any, tuple[int, dict[str, Any]]] = {}
    # Objects deleted since (nothing is deleted through the app now) have no page to link to.
    existing = set(model._default_manager.values_list("pk", flat=True))
    rows = list(
        history.objects.filter(**{f"{pk_name}__in": existing})
        .exclude(history_type="-")
        .order_by(pk_name, "history_date", "history_id")
    )
    records = []
    for row in rows:
        key = getattr(row, pk_name)
        number, before = latest.get(key, (0, None))
        values = {f.attname: getattr(row, f.attname) for f in fields}
        number += 1
        row.version = number
        latest[key] = (number, values)
        diff = [
            {
                "field": f.name,
                "old": "" if before is None else display(f, before[f.attname]),
                "new": display(f, values[f.attname]),
            }
            for f in fields
            if before is None or before[f.attname] != values[f.attname]
        ]
        reason = row.history_change_reason or ""
        if row.history_type == "+":
            change_type = "created"
        elif reason.startswith("Reverted to v"):
            change_type = "reverted"
        elif any(d["field"] == "status" for d in diff) and values.get("status") == "deprecated":
            change_type = "deprecated"
        elif any(d["field"] == "status" for d in diff) and before and before.get("status") == "deprecated":
            change_type = "reactivated"
        else:
            change_type = "updated"
        user_name = names.get(row.history_user_id, "")
        set_key = (row.history_user_id, reason, row.history_date.replace(microsecond=0))
        if set_key not in sets:
            sets[set_key] = change_set_model.objects.create(
                id=uuid.uuid4(),
                created_at=row.history_date,
                user_id=row.history_user_id if row.history_user_id in names else None,
                user_name=user_name,
                reason=reason,
                summary="Recorded before the change log existed",
            )
        records.append(
            change_record_model(
                change_set=sets[set_key],
                content_type=content_type,
                object_pk=str(key),
                object_repr=object_repr(row)[:200],
                version=number,
                change_type=change_type,
                at=row.history_date,
                user_id=row.history_user_id if row.history_user_id in names else None,
                user_name=user_name,
                reason=reason,
                diff=diff,
            )
        )
    history.objects.bulk_update(rows, ["version"], batch_size=500)
    change_record_model.objects.bulk_create(records, batch_size=500)
    for key, (number, _) in latest.items():
        model._default_manager.filter(pk=key).update(version=number)
