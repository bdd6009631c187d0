"""A partial index of the events that carry ``properties.content_id`` (PostgreSQL only): the content
list counts them per content block without scanning every event (content.selectors)."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS event_content_idx ON scoring_event (contact_id, occurred_at) "
            "WHERE properties ? 'content_id'"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS event_content_idx")


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial"), ("scoring", "0003_rebuildjob")]
    operations = [migrations.RunPython(create, drop)]
