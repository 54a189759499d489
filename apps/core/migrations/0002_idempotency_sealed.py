import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models


def drop_clear_records(apps, schema_editor):
    # Records made before this migration hold request digests and response bodies in clear
    # (names, phones). They live 24 hours at most; dropping them is the fix, and a retry of
    # one of those keys is taken as a new request.
    apps.get_model("core", "IdempotencyRecord").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        migrations.RunPython(drop_clear_records, migrations.RunPython.noop),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="subjects",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=64), blank=True, default=list, size=None
            ),
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="key_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddIndex(
            model_name="idempotencyrecord",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["subjects"], name="idempotency_subjects"
            ),
        ),
    ]
