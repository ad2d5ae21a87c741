"""Admin forms of the router: the config, profiles, reset and the "Try the router" page."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from models_registry.admin.audited import AuditedForm, VersionedForm

from .models import PARAMETER_FIELDS, ModelProfile, RouterConfig
from .types import CATEGORIES

REASON_HELP = "Why you are making this change. Recorded in the history."


def reason_field(label: str = "Reason for this change") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=500,
        help_text=REASON_HELP,
        widget=forms.TextInput(attrs={"size": 80}),
    )


class SpeedBonusesField(forms.Field):
    """``pattern = points`` lines ↔ ``{"pattern": points}``."""

    widget = forms.Textarea(attrs={"rows": 10, "cols": 40})
    line_pattern = re.compile(r"^\s*([^=\s][^=]*?)\s*[=:]\s*([-+]?\d+(?:\.\d+)?)\s*$")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{pattern} = {points}" for pattern, points in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, int | float]:
        if isinstance(value, dict):
            return value
        bonuses: dict[str, int | float] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            match = self.line_pattern.match(line)
            if not match:
                raise ValidationError(f"Line {number}: write 'pattern = points', e.g. 'groq = 10'.")
            pattern, points = match.group(1).strip().lower(), match.group(2)
            if pattern in bonuses:
                raise ValidationError(f"Line {number}: {pattern!r} is listed twice.")
            bonuses[pattern] = float(points) if "." in points else int(points)
        return bonuses


class NameListField(forms.Field):
    """Comma- or line-separated names ↔ a list of lower-case names."""

    widget = forms.TextInput(attrs={"size": 100})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return [name.strip().lower() for name in re.split(r"[,\n]", value or "") if name.strip()]


class RouterConfigForm(AuditedForm):
    speed_bonuses = SpeedBonusesField(
        required=False,
        help_text="One 'pattern = points' per line. A pattern matches a model id or name (flash, nano, "
        "-thinking variants) or equals its first host (cerebras, groq). Negative points slow a model down.",
    )
    high_stakes_domains = NameListField(
        required=False,
        help_text="Comma-separated. Messages in these domains go to the premium tier.",
    )
    research_providers = NameListField(
        required=False,
        help_text="Comma-separated provider slugs whose models search the web (research bonus).",
    )

    class Meta:
        model = RouterConfig
        fields = PARAMETER_FIELDS


class ModelProfileForm(AuditedForm):
    class Meta:
        model = ModelProfile
        fields = ("model", "quality", *CATEGORIES)


class ProfileRowForm(VersionedForm):
    """One row of the profile list (its reason is the list's, next to the Save button)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.instance.pk is not None and self.has_changed():
            self.check_seen_version(cleaned)
        return cleaned

    def has_changed(self) -> bool:
        return any(name != "seen_version" for name in self.changed_data)

    @property
    def missing_version_message(self) -> str:  # type: ignore[override]
        return f"{self.instance}: the page is missing its version; reload it."


class ResetConfigForm(forms.Form):
    reason = reason_field("Reason for the reset")


SOURCE_CHOICES = [
    ("database", "Saved config (database)"),
    ("defaults", "Built-in defaults"),
]
CLASSIFIER_CHOICES = [("local", "Local (no network)"), ("llm", "LLM (router model)")]


class TryRouterForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 90}), max_length=50_000)
    previous_model = forms.ChoiceField(label="Previous model", required=False)
    has_attachments = forms.BooleanField(label="Has image attachments", required=False)
    context_tokens = forms.IntegerField(label="Context tokens", min_value=0, initial=0)
    cost_bias = forms.IntegerField(label="Cost bias", min_value=0, max_value=100, initial=50)
    speed_bias = forms.IntegerField(label="Speed bias", min_value=0, max_value=100, initial=50)
    exclude = forms.CharField(
        label="Exclude (failed models)",
        required=False,
        help_text="Comma-separated model ids.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
    seed_key = forms.CharField(
        label="Seed key",
        required=False,
        help_text="Fixes the tier roll; empty = derived from the message.",
    )
    source = forms.ChoiceField(label="Config", choices=SOURCE_CHOICES, initial="database")
    classifier = forms.ChoiceField(label="Classifier", choices=CLASSIFIER_CHOICES, initial="local")

    def __init__(self, *args: Any, model_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model_ids = model_ids
        self.fields["previous_model"].choices = [("", "— none (first message) —")] + [
            (i, i) for i in model_ids
        ]

    def clean_exclude(self) -> list[str]:
        ids = [item.strip() for item in self.cleaned_data["exclude"].split(",") if item.strip()]
        unknown = sorted(set(ids) - set(self.model_ids))
        if unknown:
            raise ValidationError(f"Not in the catalog: {', '.join(unknown)}")
        return ids
