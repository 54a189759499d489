from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="ArchiveProgress",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table", models.CharField(max_length=63)),
                ("partition", models.CharField(max_length=63, unique=True)),
                ("rows", models.BigIntegerField(default=0)),
                ("first_id", models.BigIntegerField(null=True)),
                ("last_id", models.BigIntegerField(null=True)),
                ("offset", models.BigIntegerField(default=0)),
                ("last_hash", models.CharField(blank=True, max_length=64)),
                ("complete", models.BooleanField(default=False)),
                ("chunks", models.PositiveIntegerField(default=0)),
                ("started", models.DateTimeField(auto_now_add=True)),
                ("updated", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
