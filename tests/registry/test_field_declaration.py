"""Each catalog field is declared once (domain.fields); every other list of fields derives from it."""

from __future__ import annotations

import dataclasses

import pytest
from django.contrib import admin

from models_registry.admin.forms import AIModelForm
from models_registry.admin.resources import AIModelResource
from models_registry.audit.models import Audited
from models_registry.catalog.conversions import config_from_model
from models_registry.domain import parity
from models_registry.domain.fields import COLUMNS, FILE_KEYS, columns_from_read, file_entry, value_errors
from models_registry.domain.imports import ENTRY_KEY_FOR_FIELD, IMPORTED_FIELDS, catalog_entry
from models_registry.domain.static_catalog import ENTRY_KEYS, parse_entry
from models_registry.domain.types import ModelConfig
from models_registry.models import AIModel, Provider


def test_the_file_keys_read_type_parity_import_and_admin_fields_are_the_declared_ones(static_catalog):
    declared_keys = set(FILE_KEYS)
    config = static_catalog.models[0]

    assert set(ENTRY_KEYS) == declared_keys  # static catalog
    assert set(catalog_entry(config)) == declared_keys  # import / export files
    assert {field.column_name for field in AIModelResource().get_import_fields()} == declared_keys
    # The provider's name and first-party flag come from its own row, not from the model's entry.
    read_fields = {field.name for field in dataclasses.fields(ModelConfig)} - {
        "provider_name",
        "provider_first_party",
    }
    assert read_fields == declared_keys  # the read type
    # Parity compares the prices in force, not the database's own price history.
    assert {*parity._COMPARED_KEYS, "id", "price_schedule"} == declared_keys  # parity

    declared_columns = set(COLUMNS)
    bookkeeping = {*Audited.audit_excluded_fields, AIModel.revision_field}
    stored = {f.name for f in AIModel._meta.concrete_fields} - bookkeeping
    assert stored == declared_columns  # the table holds exactly the declared fields
    assert {*IMPORTED_FIELDS, "model_id"} == declared_columns == set(ENTRY_KEY_FOR_FIELD)
    # The price timeline is edited through the price fields (a time to schedule them, entries to
    # cancel) and shown as a table, not as its JSON.
    timeline_controls = {"prices_effective_from", "cancel_scheduled", "prices_in_force_since"}
    form_fields = set(AIModelForm.base_fields) - {"reason", "seen_version"}
    assert form_fields == declared_columns - {"price_schedule"} | timeline_controls
    model_admin = admin.site._registry[AIModel]
    in_fieldsets = {name for _, options in model_admin.fieldsets for name in options["fields"]}
    assert in_fieldsets == declared_columns - {"price_schedule"} | timeline_controls | {"price_timeline"}


def test_every_static_entry_round_trips_through_file_row_and_read_type(static_catalog):
    for config in static_catalog.models:
        assert parse_entry(file_entry(config), static_catalog.providers, static_catalog.first_party) == config
        columns = columns_from_read(config)
        provider = Provider(
            slug=columns.pop("provider"), name=config.provider_name, first_party=config.provider_first_party
        )
        assert config_from_model(AIModel(provider=provider, **columns)) == config


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("input_price", -1, "must be a non-negative number"),
        ("context_window", 0, "must be a positive integer"),
        ("host_order", ["a", "a"], "lists a host twice"),
        ("status", "retired", "must be one of active, beta, deprecated (got 'retired')"),
    ],
)
def test_a_rule_is_written_once_and_used_by_the_parser_and_the_model(column, value, message, db):
    from decimal import Decimal

    value = Decimal(value) if column == "input_price" else value
    assert value_errors({column: value}) == {column: [message]}
    model = AIModel(model_id="acme:x", name="X", context_window=1, input_price=1, output_price=1)
    setattr(model, column, value)
    with pytest.raises(Exception) as refused:
        model.clean()
    assert refused.value.message_dict[column] == [message]
