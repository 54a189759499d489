from django.db import migrations

from apps.eventbus.relay import APPENDED_CHANNEL

FUNCTION = f"""
CREATE OR REPLACE FUNCTION public.mymedic_notify_events_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{APPENDED_CHANNEL}', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    """Each transaction that appends events wakes the event-bus relay at its commit (NOTIFY
    is delivered only then, once per transaction and schema), so the relay needs no polling
    to publish within milliseconds. The relay still finds its work in `tenants.TenantWork`:
    a lost notification (the relay was not listening) costs latency, never an event."""

    dependencies = [("eventstore", "0005_note_events_head")]

    operations = [
        migrations.RunSQL(FUNCTION, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(
            """
CREATE TRIGGER eventstore_event_notify_appended
    AFTER INSERT ON eventstore_event
    FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_notify_events_appended();
""",
            reverse_sql="DROP TRIGGER IF EXISTS eventstore_event_notify_appended ON eventstore_event;",
        ),
    ]
