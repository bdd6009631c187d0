"""Trigram indexes that keep contact search an index lookup at a million contacts (PostgreSQL only).

Django's ``icontains`` on PostgreSQL compares ``UPPER(col::text) LIKE UPPER('%term%')``; GIN trigram
indexes on exactly those expressions let the planner combine them with a BitmapOr. SQLite has no
such index and scans, which is fine at the sizes the embedded default is for.
"""

from django.db import migrations

COLUMNS = [
    ("funnel_contact", "email", "contact_email_trgm"),
    ("funnel_contact", "first_name", "contact_first_name_trgm"),
    ("funnel_contact", "last_name", "contact_last_name_trgm"),
    ("funnel_company", "name", "company_name_trgm"),
    ("funnel_company", "domain", "company_domain_trgm"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column, name in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, _column, name in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("funnel", "0002_default_stages")]
    operations = [migrations.RunPython(create, drop)]
