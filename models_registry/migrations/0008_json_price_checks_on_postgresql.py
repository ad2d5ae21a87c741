"""On PostgreSQL, the rules of the prices kept as JSON are check constraints too.

Long-context tiers must have positive, strictly increasing thresholds and
non-negative prices; service tiers and request fees non-negative prices. The
application checks the same rules on every write (domain.fields); these make
a raw UPDATE that bypasses it fail as well. SQLite cannot express them (a
CHECK there may not read a JSON array), so it keeps the application's check.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION registry_price_tiers_valid(tiers jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_typeof(tiers) = 'array' AND coalesce(bool_and(
           jsonb_typeof(tier) = 'object'
           AND (tier->>'above_input_tokens')::numeric > coalesce(previous, 0)
           AND NOT EXISTS (SELECT 1 FROM jsonb_each_text(tier) AS price(key, value)
                           WHERE price.key <> 'above_input_tokens' AND price.value::numeric < 0)
         ), true)
  FROM (SELECT tier, lag((tier->>'above_input_tokens')::numeric) OVER (ORDER BY position) AS previous
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(tiers) = 'array' THEN tiers ELSE '[]' END)
             WITH ORDINALITY AS element(tier, position)) AS ordered
$$;

CREATE OR REPLACE FUNCTION registry_price_object_valid(prices jsonb, depth integer) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_typeof(prices) = 'object' AND NOT EXISTS (
    SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(prices) = 'object' THEN prices ELSE '{}' END)
                  AS price(key, value)
    WHERE CASE WHEN depth > 0 AND jsonb_typeof(price.value) = 'object'
               THEN NOT registry_price_object_valid(price.value, depth - 1)
               ELSE jsonb_typeof(price.value) <> 'string' OR (price.value #>> '{}')::numeric < 0 END)
$$;
"""

CONSTRAINTS = """
ALTER TABLE models_registry_aimodel
  ADD CONSTRAINT aimodel_price_tiers_valid CHECK (registry_price_tiers_valid(price_tiers)),
  ADD CONSTRAINT aimodel_service_tiers_valid CHECK (registry_price_object_valid(service_tiers, 1)),
  ADD CONSTRAINT aimodel_request_fees_valid CHECK (registry_price_object_valid(request_fees, 0));
"""

DROP = """
ALTER TABLE models_registry_aimodel
  DROP CONSTRAINT IF EXISTS aimodel_price_tiers_valid,
  DROP CONSTRAINT IF EXISTS aimodel_service_tiers_valid,
  DROP CONSTRAINT IF EXISTS aimodel_request_fees_valid;
DROP FUNCTION IF EXISTS registry_price_tiers_valid(jsonb);
DROP FUNCTION IF EXISTS registry_price_object_valid(jsonb, integer);
"""


def add_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)
        schema_editor.execute(CONSTRAINTS)


def drop_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("models_registry", "0007_pricing_as_providers_bill")]

    operations = [migrations.RunPython(add_checks, drop_checks)]
