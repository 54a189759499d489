from django.db import migrations

from apps.core.db import append_only


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("eventstore", "0002_append_only_triggers")]

    operations = [append_only("audit_auditentry", name="audit_entry")]
