"""Staff API tokens stored as digests. Existing DRF tokens (kept in clear) are carried over as
their SHA-256, so apps signed in keep working until the token idles out, and the clear keys
are deleted."""

import hashlib
from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def digest_existing_tokens(apps, schema_editor):  # type: ignore[no-untyped-def]
    if "authtoken_token" not in schema_editor.connection.introspection.table_names():
        return  # the public schema has no staff tokens
    Token = apps.get_model("authtoken", "Token")
    StaffToken = apps.get_model("clinic", "StaffToken")
    now = timezone.now()
    for token in Token.objects.all():
        StaffToken.objects.create(
            key_hash=hashlib.sha256(token.key.encode()).hexdigest(),
            user_id=token.user_id,
            created=token.created,
            last_used=now,
            expires=now + timedelta(days=settings.MYMEDIC_TOKEN_MAX_DAYS),
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0002_branch_contact_sign_in_links"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="StaffToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_hash", models.CharField(max_length=64, unique=True)),
                ("created", models.DateTimeField()),
                ("last_used", models.DateTimeField()),
                ("expires", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-created", "-id"]},
        ),
        migrations.RunPython(digest_existing_tokens, migrations.RunPython.noop),
    ]
