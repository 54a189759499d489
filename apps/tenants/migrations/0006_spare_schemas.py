import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0005_tenant_moving_at")]

    operations = [
        migrations.CreateModel(
            name="SpareSchema",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("schema_name", models.CharField(max_length=63, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("migrations", models.CharField(max_length=64)),
                ("migration_count", models.PositiveIntegerField(default=0)),
                (
                    "method",
                    models.CharField(
                        choices=[
                            ("replay", "Replayed the template's definitions"),
                            ("migrate", "Ran every migration"),
                            ("clone", "Cloned the template (clone_schema)"),
                        ],
                        max_length=16,
                    ),
                ),
                ("seconds", models.FloatField(help_text="How long making it took.")),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "claimed_as",
                    models.CharField(blank=True, help_text="The tenant's schema.", max_length=63),
                ),
            ],
            options={
                "ordering": ["-created_at"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("claimed_at__isnull", True)),
                        fields=["migrations", "id"],
                        name="spare_schema_ready",
                    )
                ],
            },
        ),
    ]
