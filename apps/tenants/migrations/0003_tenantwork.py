import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_tenant_verified_at")]

    operations = [
        migrations.CreateModel(
            name="TenantWork",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("job", models.CharField(max_length=40)),
                ("position", models.BigIntegerField(default=0)),
                ("due_at", models.DateTimeField(blank=True, null=True)),
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
                "indexes": [models.Index(fields=["job", "due_at"], name="tenant_work_due")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "job"), name="tenant_work_once_per_job"
                    )
                ],
            },
        ),
    ]
