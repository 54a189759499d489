from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_tenantwork")]

    operations = [
        migrations.CreateModel(
            name="SchemaMigration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("schema", models.CharField(max_length=63, unique=True)),
                ("target", models.CharField(max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=8,
                    ),
                ),
                ("error", models.TextField(blank=True)),
                (
                    "applied",
                    models.PositiveIntegerField(
                        default=0, help_text="migrations applied by the last run"
                    ),
                ),
                (
                    "runner",
                    models.CharField(
                        blank=True, help_text="host:pid of the last runner", max_length=100
                    ),
                ),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("seconds", models.FloatField(blank=True, null=True)),
            ],
            options={
                "ordering": ["schema"],
                "indexes": [
                    models.Index(fields=["status", "schema"], name="schema_migration_status")
                ],
            },
        ),
    ]
