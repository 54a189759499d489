import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0006_spare_schemas")]

    operations = [
        migrations.CreateModel(
            name="SpareRecipe",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("migrations", models.CharField(max_length=64, unique=True)),
                ("sql", models.TextField()),
                ("made_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("seconds", models.FloatField(help_text="How long the dump took.")),
            ],
        ),
    ]
