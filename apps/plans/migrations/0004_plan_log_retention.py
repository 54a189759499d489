import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("plans", "0003_statements")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="log_retention_months",
            field=models.PositiveSmallIntegerField(
                default=36,
                help_text="Months of event log and audit trail kept live before they are "
                "archived (at least 36, the legal minimum for medical records).",
                validators=[django.core.validators.MinValueValidator(36)],
            ),
        ),
    ]
