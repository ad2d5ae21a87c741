"""Forms of the catalog admin: the model form with its reason and edit-conflict
check, the action and revert confirmation forms, and the import forms."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from import_export.forms import ConfirmImportForm, ImportForm

from models_registry.admin.audited import REASON_LABEL, AuditedForm, reason_field
from models_registry.admin.price_widgets import PriceTiersField, RequestFeesField, ServiceTiersField
from models_registry.domain.fields import (
    PRICE_FIELDS as DECLARED_PRICES,
)
from models_registry.domain.fields import (
    PRICE_KINDS,
    display_datetime_utc,
    in_force_since,
)
from models_registry.domain.types import EDITABLE_MODEL_FIELDS, format_money
from models_registry.models import AIModel, ModelStatus, Provider

# Price columns shown as "2.5", not the column's "2.500000".
PRICE_FIELDS = tuple(field.column for field in DECLARED_PRICES.values() if field.kind in PRICE_KINDS)
PRICE_COLUMNS = tuple(field.column for field in DECLARED_PRICES.values())


class PrettyJSONField(forms.JSONField):
    """A JSON field shown indented, so nested configs are readable and editable."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 12, "cols": 80, "class": "vLargeTextField"})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        text = json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (refused by validation) is shown escaped
            text = json.dumps(value, indent=2, ensure_ascii=True, cls=self.encoder)
        return text


class HostOrderField(forms.Field):
    """The ordered host list as text, one host per line, first tried first."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40})

    def __init__(self, *, encoder: Any = None, decoder: Any = None, **kwargs: Any) -> None:
        # The model's JSONField passes its JSON codec; plain host names need none.
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return "\n".join(str(host) for host in value)
        return value or ""

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        repeated = sorted({host for host in value if value.count(host) > 1})
        if repeated:
            raise ValidationError(f"Listed twice: {', '.join(repeated)}.")


class AIModelForm(AuditedForm):
    """The change form: every save needs a reason, and refuses if the model changed since it was opened."""

    prices_effective_from = forms.DateTimeField(
        label="Prices take effect",
        required=False,
        help_text="UTC, e.g. 2026-12-01 00:00. Blank: now. A future time schedules the price changes "
        "of this form; the listed prices stay until then.",
    )
    cancel_scheduled = forms.MultipleChoiceField(
        label="Cancel scheduled prices", required=False, widget=forms.CheckboxSelectMultiple
    )
    # Which timeline entry was in force when the form opened: one that takes effect while the editor
    # types changes the prices under them, which the version number cannot see.
    prices_in_force_since = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = AIModel
        # The timeline is written by the price fields and the two fields above, not as JSON.
        fields = ("model_id", *(name for name in EDITABLE_MODEL_FIELDS if name != "price_schedule"))
        field_classes = {
            "reasoning_config": PrettyJSONField,
            "benchmarks": PrettyJSONField,
            "host_order": HostOrderField,
            "price_tiers": PriceTiersField,
            "service_tiers": ServiceTiersField,
            "request_fees": RequestFeesField,
        }
        help_texts = {
            "host_order": "One host per line, in the order they are tried.",
            "reasoning_config": "JSON object with a “type” key (see models_registry/reasoning.py), or null.",
            "benchmarks": "JSON object, or null.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django adds a hidden "initial" copy for fields with callable defaults
        # (host_order's list); changes are judged against the stored row instead.
        if "host_order" in self.fields:
            self.fields["host_order"].show_hidden_initial = False
        now = timezone.now()
        self.listed_prices_behind = False
        if self.instance.pk is not None:
            schedule = self.instance.price_schedule or []
            self.fields["cancel_scheduled"].choices = [
                (entry["effective_from"], f"from {display_datetime_utc(entry['effective_from'])}")
                for entry in schedule
                if datetime.fromisoformat(entry["effective_from"]) > now
            ]
            # A scheduled price that took effect since the last save: the form shows (and saves)
            # the prices in force, not the listed ones it replaced.
            listed, in_force = self.instance.listed_prices(), self.instance.prices_in_force(now)
            self.in_force_since = in_force_since(schedule, now)
            if not self.is_bound:
                self.initial["prices_in_force_since"] = self.in_force_since
            self.listed_prices_behind = in_force != listed
            if self.listed_prices_behind and not self.is_bound:
                for key, field in DECLARED_PRICES.items():
                    if field.column in self.fields:
                        self.initial[field.column] = in_force.get(key, self.fields[field.column].initial)
        if self.instance.pk is not None and not self.is_bound:
            for name in PRICE_FIELDS:  # "2.5", not the column's "2.500000"
                if name in self.fields and self.initial.get(name) is not None:
                    self.initial[name] = format_money(Decimal(str(self.initial[name])))

    @property
    def changed_model_fields(self) -> list[str]:
        changed = super().changed_model_fields
        if self.listed_prices_behind:  # bring the listed prices up to those in force
            changed += [column for column in PRICE_COLUMNS if column in self.fields and column not in changed]
        return changed

    def clean_prices_effective_from(self) -> datetime | None:
        moment = self.cleaned_data.get("prices_effective_from")
        if moment is not None and moment <= timezone.now():
            raise ValidationError(
                "Give a future time (UTC) to schedule the prices, or leave it blank for now."
            )
        return moment

    def clean(self) -> dict[str, Any]:
        try:
            cleaned = super().clean()  # an edit conflict says more, so it is checked first
        except ValidationError as error:
            # Cancelling a scheduled price is a change of its own.
            if not (
                self.cleaned_data.get("cancel_scheduled") and "Nothing to save" in " ".join(error.messages)
            ):
                raise
            cleaned = self.cleaned_data
        seen = cleaned.get("prices_in_force_since") or ""
        if self.instance.pk is not None and seen != getattr(self, "in_force_since", ""):
            raise ValidationError(
                "A scheduled price took effect while you were editing, so the prices in force changed. "
                "Reload the page to see them, then make your change again."
            )
        return cleaned


class ProviderForm(AuditedForm):
    class Meta:
        model = Provider
        fields = ["slug", "name", "first_party"]


class ReasonForm(forms.Form):
    """The confirmation step of deprecate (and the base of the others): asks why."""

    reason = reason_field()


class ReactivateForm(ReasonForm):
    status = forms.ChoiceField(
        label="Reactivate as",
        choices=[(ModelStatus.ACTIVE, "Active"), (ModelStatus.BETA, "Beta")],
        initial=ModelStatus.ACTIVE,
    )


class DuplicateForm(forms.Form):
    new_model_id = forms.CharField(
        label="New model id", max_length=150, help_text="Form 'provider:model-name'; cannot change later."
    )
    new_name = forms.CharField(label="New name", max_length=150)
    reason = reason_field(
        required=False, help_text="Optional note; the history says “Duplicated from <model>” either way."
    )


class CatalogImportForm(ImportForm):
    reason = forms.CharField(
        label=REASON_LABEL,
        required=False,
        max_length=500,
        help_text="Optional. Default: “Imported from <file name>”.",
        widget=forms.TextInput(attrs={"size": 80}),
    )
    create_providers = forms.BooleanField(
        label="Create missing providers",
        required=False,
        help_text="Providers the file names that do not exist yet are created (named by the entries' "
        "“provider_name”, else their slug). Unticked, they are reported as errors.",
    )
    field_order = ["resource", "import_file", "format", "reason", "create_providers"]

    def clean_import_file(self) -> Any:
        upload = self.cleaned_data.get("import_file")
        limit = int(getattr(settings, "IMPORT_MAX_BYTES", 10 * 1024 * 1024))
        if upload is not None and upload.size > limit:
            raise ValidationError(
                f"The file is {upload.size / 1e6:.1f} MB; imports are limited to {limit / 1e6:.0f} MB. "
                "Split it into smaller files."
            )
        if upload is not None:
            try:
                if "\x00" in upload.read().decode("utf-8-sig"):
                    raise ValidationError("The file contains NUL bytes: it is not a JSON text file.")
            except UnicodeDecodeError:
                raise ValidationError("The file is not UTF-8 text.") from None
            finally:
                upload.seek(0)
        return upload


class CatalogConfirmImportForm(ConfirmImportForm):
    reason = forms.CharField(widget=forms.HiddenInput, required=False)
    create_providers = forms.BooleanField(widget=forms.HiddenInput, required=False)
    # What the preview showed; the confirm step refuses if applying the file would now differ.
    plan_digest = forms.CharField(widget=forms.HiddenInput)
