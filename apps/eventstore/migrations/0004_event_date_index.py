from django.db import migrations


class Migration(migrations.Migration):
    """Domain events carry their local business date as `data.date`; readers such as the
    daily close select by it, so a month's worth is an index range, not a table scan."""

    dependencies = [("eventstore", "0003_projectionstate_projectionsnapshot")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS event_data_date ON eventstore_event "
            "((data->>'date'), type)",
            reverse_sql="DROP INDEX IF EXISTS event_data_date",
        )
    ]
