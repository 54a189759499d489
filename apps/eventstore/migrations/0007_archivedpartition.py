from django.db import migrations, models

from apps.core.db import append_only


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0006_partitioned_by_month")]

    operations = [
        migrations.CreateModel(
            name="ArchivedPartition",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table", models.CharField(max_length=63)),
                ("partition", models.CharField(max_length=63, unique=True)),
                ("lower", models.DateTimeField(null=True)),
                ("upper", models.DateTimeField()),
                ("rows", models.BigIntegerField()),
                ("first_id", models.BigIntegerField(null=True)),
                ("last_id", models.BigIntegerField(null=True)),
                ("last_hash", models.CharField(blank=True, max_length=64)),
                ("path", models.CharField(max_length=500)),
                ("sha256", models.CharField(max_length=64)),
                ("mac", models.CharField(max_length=64)),
                ("archived_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["table", "upper"]},
        ),
        append_only("eventstore_archivedpartition", name="eventstore_archived"),
    ]
