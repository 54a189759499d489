from django.db import migrations

from apps.core.db import note_head


class Migration(migrations.Migration):
    """Each append notes the log's head for the periodic jobs (apps/core/tenancy.py)."""

    dependencies = [("eventstore", "0004_event_date_index")]

    operations = note_head(
        table="eventstore_event",
        job="events",
        column="position",
        trigger="eventstore_event_note_head",
    )
