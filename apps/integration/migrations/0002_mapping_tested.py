from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0001_hl7_integration"),
    ]

    operations = [
        migrations.AddField(
            model_name="mappingversion",
            name="tested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
