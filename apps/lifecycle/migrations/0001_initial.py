import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("tenants", "0007_spare_schema_recipe")]

    operations = [
        migrations.CreateModel(
            name="TenantClosure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slug", models.SlugField(max_length=31)),
                (
                    "tenant_id",
                    models.BigIntegerField(
                        help_text="The tenant's id in this cell (its row goes)."
                    ),
                ),
                ("schema_name", models.CharField(blank=True, max_length=63)),
                ("closed_at", models.DateTimeField()),
                ("closed_by", models.CharField(max_length=254)),
                ("reason", models.CharField(blank=True, max_length=200)),
                ("erase_after", models.DateTimeField()),
                ("erase_started_at", models.DateTimeField(blank=True, null=True)),
                ("erased_at", models.DateTimeField(blank=True, null=True)),
                ("erased_by", models.CharField(blank=True, max_length=254)),
                ("steps", models.JSONField(blank=True, default=dict)),
                ("counts", models.JSONField(blank=True, default=dict)),
                ("audit_head_sha256", models.CharField(blank=True, max_length=64)),
                ("statements_kept", models.JSONField(blank=True, default=list)),
            ],
            options={
                "ordering": ["-closed_at"],
                "indexes": [
                    models.Index(
                        condition=models.Q(erased_at__isnull=True),
                        fields=["erase_after"],
                        name="tenant_closure_erase_due",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(erased_at__isnull=True),
                        fields=("slug",),
                        name="tenant_closure_one_open_per_slug",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="StorageMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField(help_text="The first day of the month.")),
                ("schema_bytes", models.BigIntegerField(default=0)),
                ("warehouse_bytes", models.BigIntegerField(default=0)),
                ("files_bytes", models.BigIntegerField(default=0)),
                ("peak_bytes", models.BigIntegerField(default=0)),
                ("measured_at", models.DateTimeField()),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "ordering": ["-month", "tenant_id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "month"), name="storage_month_once"
                    )
                ],
            },
        ),
    ]
