from django.db import migrations

from apps.core.db import REFUSE_CHANGE_FUNCTION, append_only


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0001_initial")]

    operations = [
        migrations.RunSQL(REFUSE_CHANGE_FUNCTION, reverse_sql=migrations.RunSQL.noop),
        append_only("eventstore_event"),
    ]
