from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0008_patient_merge")]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="token",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="appointmentview",
            name="token",
            field=models.PositiveIntegerField(null=True),
        ),
    ]
