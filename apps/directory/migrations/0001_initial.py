import django.contrib.postgres.fields
from django.db import migrations, models

# Every change to the directory wakes the edge (`manage.py edge` listens on this channel and
# rewrites its host map); NOTIFY is delivered when the writing transaction commits.
NOTIFY = """
CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mymedic_directory', '');
    RETURN NULL;
END $$;
CREATE TRIGGER directory_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON directory_tenantlocation
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
"""
DROP = """
DROP TRIGGER IF EXISTS directory_changed ON directory_tenantlocation;
DROP FUNCTION IF EXISTS directory_changed();
"""


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="TenantLocation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("slug", models.SlugField(max_length=31, unique=True)),
                ("region", models.CharField(max_length=16)),
                ("cell", models.CharField(max_length=63)),
                (
                    "hosts",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=253), default=list, size=None
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("changed", models.DateTimeField(auto_now=True)),
            ],
            options={
                "ordering": ["slug"],
                "indexes": [models.Index(fields=["cell"], name="tenant_location_cell")],
            },
        ),
        migrations.RunSQL(NOTIFY, DROP),
    ]
