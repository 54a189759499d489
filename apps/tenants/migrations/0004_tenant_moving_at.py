from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0003_tenantwork")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="moving_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
