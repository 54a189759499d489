from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0005_patient_key_version"),
    ]

    operations = [
        migrations.CreateModel(
            name="SchedulingSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.PositiveIntegerField(default=0, editable=False)),
                ("check_in_opens_minutes", models.PositiveSmallIntegerField(default=120, help_text="How long before a visit's start check-in opens, in minutes.")),
                ("no_show_grace_minutes", models.PositiveSmallIntegerField(default=15, help_text="How long after a visit's start it may be marked a no-show.")),
            ],
            options={
                "verbose_name": "scheduling settings",
                "verbose_name_plural": "scheduling settings",
            },
        ),
    ]
