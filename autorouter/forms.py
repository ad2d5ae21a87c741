"""Admin forms of the router: the config, drafts, profiles, reset and the "Try the router" page."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from django import forms
from django.contrib.admin.widgets import AutocompleteMixin, get_select2_language
from django.core.exceptions import ValidationError
from django.utils.functional import Promise

from models_registry.admin.audited import AuditedForm, VersionedForm

from .models import PARAMETER_FIELDS, SCORE_NAMES, ModelProfile, RouterConfig, RouterDraft, RouterExample
from .types import CATEGORIES

REASON_HELP = "Why you are making this change. Recorded in the history."


def reason_field(label: str = "Reason for this change") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=500,
        help_text=REASON_HELP,
        widget=forms.TextInput(attrs={"size": 80}),
    )


class ModelIdAutocomplete(forms.Select):
    """Pick a catalog model by id, searching as you type (the admin's own select2, fed by ``url``).

    Renders one option, the current value: a catalog of thousands of models is never
    written into the page, and rendering needs no query. The form field still checks
    the id on the server. ``url`` answers ``?term=&page=`` in select2's JSON shape.
    """

    def __init__(self, url: str | Promise, attrs: dict[str, Any] | None = None) -> None:
        # select2 takes its width from the element's style ("resolve"); one option is too narrow.
        super().__init__(attrs={"style": "width: 30em", **(attrs or {})})
        self.url = url
        self.i18n_name = get_select2_language()

    # The same static files as the admin's autocomplete fields (jQuery, select2, autocomplete.js).
    media = property(AutocompleteMixin.media.fget)

    def build_attrs(self, base_attrs: dict[str, Any], extra_attrs: dict[str, Any] | None = None) -> dict:
        attrs = super().build_attrs(base_attrs, extra_attrs=extra_attrs)
        classes = attrs.get("class", "")
        attrs.update(
            {
                "data-ajax--cache": "true",
                "data-ajax--delay": 250,
                "data-ajax--type": "GET",
                "data-ajax--url": str(self.url),
                "data-theme": "admin-autocomplete",
                "data-allow-clear": json.dumps(not self.is_required),
                "data-placeholder": "",  # lets select2 clear the value
                "lang": self.i18n_name,
                # admin/js/autocomplete.js starts select2 on every .admin-autocomplete element.
                "class": f"{classes} admin-autocomplete".strip(),
            }
        )
        return attrs

    def optgroups(self, name: str, value: list[Any], attrs: dict[str, Any] | None = None) -> list:
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        chosen = next((str(item) for item in value if item not in (None, "")), None)
        if chosen is not None:
            options.append(self.create_option(name, chosen, chosen, True, len(options)))
        return [(None, options, 0)]

    def use_required_attribute(self, initial: Any) -> bool:
        # select2 hides the <select>: a browser cannot show "required" on it (the server says so).
        return False


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


class ProfileOverridesField(forms.Field):
    """``model-id score=N score=N`` lines ↔ ``{"model-id": {"score": N}}`` (a draft's profile changes)."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 80})
    pair = re.compile(r"^([a-z_]+)\s*=\s*(-?\d+)$")

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(
                " ".join([model_id, *(f"{name}={score}" for name, score in scores.items())])
                for model_id, scores in value.items()
            )
        return value

    def to_python(self, value: Any) -> dict[str, dict[str, int]]:
        if isinstance(value, dict):
            return value
        overrides: dict[str, dict[str, int]] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            words = re.sub(r"\s*=\s*", "=", line.strip()).split()
            if not words:
                continue
            model_id, pairs = words[0], words[1:]
            if "=" in model_id or not pairs:
                raise ValidationError(
                    f"Line {number}: write 'model-id score=N ...', e.g. 'openai:gpt-5 coding=95'."
                )
            if model_id in overrides:
                raise ValidationError(f"Line {number}: {model_id} is listed twice.")
            scores: dict[str, int] = {}
            for pair in pairs:
                match = self.pair.match(pair.lower())
                if not match or match.group(1) not in SCORE_NAMES:
                    raise ValidationError(
                        f"Line {number}: {pair!r} is not 'score=N' with a score of {', '.join(SCORE_NAMES)}."
                    )
                scores[match.group(1)] = int(match.group(2))
            overrides[model_id] = scores
        return overrides


class RouterDraftForm(RouterConfigForm):
    profile_overrides = ProfileOverridesField(
        label="profile changes",
        required=False,
        help_text="One model per line: its id, then the scores it changes (0-100), e.g. "
        "“openai:gpt-5-mini quality=72 coding=80”. A model without a profile needs all nine: "
        + ", ".join(SCORE_NAMES)
        + ".",
    )

    class Meta:
        model = RouterDraft
        fields = ("name", *PARAMETER_FIELDS, "profile_overrides")


class NewDraftForm(AuditedForm):
    class Meta:
        model = RouterDraft
        fields = ("name",)


class DraftActionForm(forms.Form):
    """Publish or discard: a reason, and the draft version the editor looked at."""

    reason = reason_field("Reason for this change")
    seen_version = forms.IntegerField(widget=forms.HiddenInput)


class ReplayForm(forms.Form):
    """What to replay a draft over: a range of logged days, and optionally a labelled dataset."""

    days = forms.IntegerField(
        label="days of decisions",
        min_value=1,
        max_value=90,
        initial=7,
        help_text="The decisions logged in the last N days (UTC, today included).",
    )
    dataset = forms.FileField(
        required=False,
        label="evaluation dataset (optional)",
        help_text="JSON Lines: a prompt per line with any of category, complexity, "
        "weak_correct/strong_correct (see fixtures/router_eval/README.md). Evaluated with the live "
        "config and the draft.",
    )
    split = forms.ChoiceField(
        required=False,
        choices=[("", "every example"), ("train", "train"), ("test", "test")],
        label="split",
        help_text="Only the examples of this split (if the file has one).",
    )


class EvaluateForm(forms.Form):
    """The "Evaluate a dataset" page: a labelled dataset and the config to route it with."""

    dataset = forms.FileField(
        label="evaluation dataset",
        help_text="JSON Lines: a prompt per line with any of category, complexity, "
        "weak_correct/strong_correct, scores (see fixtures/router_eval/README.md).",
    )
    split = ReplayForm.base_fields["split"]
    config = forms.ChoiceField(label="config", help_text="What to route the dataset with.")

    def __init__(self, *args: Any, drafts: Collection[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["config"].choices = [
            ("live", "the live config"),
            ("defaults", "the built-in defaults"),
            *((f"draft:{pk}", f"draft {pk}: {name}") for pk, name in drafts),
        ]


class RouterExampleForm(AuditedForm):
    class Meta:
        model = RouterExample
        fields = ("text", "category", "complexity", "is_active")
        widgets = {"text": forms.Textarea(attrs={"rows": 5, "cols": 90})}
        help_texts = {
            "text": "A message as a user would write it. The classifier learns from it within seconds of "
            "saving (every worker retrains); the message is stored, so never paste a user's private text."
        }


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
CLASSIFIER_CHOICES = [
    ("semantic", "Semantic (packaged embeddings, no network)"),
    ("local", "Keyword rules (no network, no dependency)"),
    ("llm", "LLM (router model)"),
]


class TryRouterForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 90}), max_length=50_000)
    previous_model = forms.CharField(
        label="Previous model",
        required=False,
        max_length=150,
        help_text="Empty: the first message of a conversation.",
    )
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
    classifier = forms.ChoiceField(label="Classifier", choices=CLASSIFIER_CHOICES, initial="semantic")
    list_exclusions = forms.BooleanField(
        label="List every exclusion",
        required=False,
        help_text="Off: the models left out are counted per reason.",
    )

    def __init__(
        self, *args: Any, model_ids: Collection[str], picker_url: str | Promise, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.model_ids = model_ids if isinstance(model_ids, set | frozenset) else frozenset(model_ids)
        self.fields["previous_model"].widget = ModelIdAutocomplete(picker_url)
        self.fields["previous_model"].widget.is_required = False

    def clean_previous_model(self) -> str:
        model_id = self.cleaned_data["previous_model"].strip()
        if model_id and model_id not in self.model_ids:
            raise ValidationError(f"Not in the catalog: {model_id}")
        return model_id

    def clean_exclude(self) -> list[str]:
        ids = [item.strip() for item in self.cleaned_data["exclude"].split(",") if item.strip()]
        unknown = sorted(set(ids) - self.model_ids)
        if unknown:
            raise ValidationError(f"Not in the catalog: {', '.join(unknown)}")
        return ids
