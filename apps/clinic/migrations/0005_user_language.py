from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("clinic", "0004_no_superuser_roles")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="language",
            field=models.CharField(
                choices=[("en", "English"), ("hi", "हिन्दी (Hindi)")], default="en", max_length=5
            ),
        ),
    ]
