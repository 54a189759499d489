from django.db import migrations, models
from django.db.models import F


def existing_tenants_are_verified(apps, schema_editor):
    # Tenants made before verification existed were made by operators or have run for a while.
    apps.get_model("tenants", "Tenant").objects.update(verified_at=F("created"))


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(existing_tenants_are_verified, migrations.RunPython.noop),
    ]
