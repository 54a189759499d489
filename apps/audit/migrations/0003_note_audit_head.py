from django.db import migrations

# Each audit entry notes the trail's head in the public schema's `tenants_tenantwork`, in the
# same transaction, so anchoring visits only tenants whose trail grew (apps/core/tenancy.py).
NOTE_HEAD = """
CREATE OR REPLACE FUNCTION public.mymedic_note_audit_head() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tenants_tenantwork (tenant_id, job, position)
    SELECT tenant.id, 'audit', head.position
    FROM public.tenants_tenant AS tenant,
         (SELECT max(id) AS position FROM appended) AS head
    WHERE tenant.schema_name = TG_TABLE_SCHEMA AND head.position IS NOT NULL
    ON CONFLICT (tenant_id, job) DO UPDATE
        SET position = GREATEST(public.tenants_tenantwork.position, EXCLUDED.position);
    RETURN NULL;
END
$$;
"""

TRIGGER = """
CREATE TRIGGER audit_entry_note_head
    AFTER INSERT ON audit_auditentry REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_note_audit_head();
"""

DROP_TRIGGER = "DROP TRIGGER IF EXISTS audit_entry_note_head ON audit_auditentry;"


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]

    operations = [
        migrations.RunSQL(NOTE_HEAD, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(TRIGGER, reverse_sql=DROP_TRIGGER),
    ]
