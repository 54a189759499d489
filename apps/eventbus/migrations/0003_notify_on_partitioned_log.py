from django.db import migrations


class Migration(migrations.Migration):
    """The relay's wake-up on commit (0001) lived on the event table; partitioning the log by
    month (eventstore 0006) made that table a partition (or dropped it), so inserts through
    the new parent woke nobody and the relay fell back to its 5 s look. The statement trigger
    goes on the partitioned parent, which fires it once per appending statement."""

    dependencies = [
        ("eventbus", "0002_webhook_cursor"),
        ("eventstore", "0006_partitioned_by_month"),
    ]

    operations = [
        migrations.RunSQL(
            """
DROP TRIGGER IF EXISTS eventstore_event_notify_appended ON eventstore_event;
CREATE TRIGGER eventstore_event_notify_appended
    AFTER INSERT ON eventstore_event
    FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_notify_events_appended();
""",
            reverse_sql="DROP TRIGGER IF EXISTS eventstore_event_notify_appended ON eventstore_event;",
        ),
    ]
