from django.db import migrations

from apps.core.db import note_head


class Migration(migrations.Migration):
    """Each audit entry notes the trail's head, so anchoring visits only tenants whose trail
    grew (apps/core/tenancy.py)."""

    dependencies = [("audit", "0002_append_only")]

    operations = note_head(
        table="audit_auditentry", job="audit", column="id", trigger="audit_entry_note_head"
    )
