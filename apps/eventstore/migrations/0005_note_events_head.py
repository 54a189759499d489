from django.db import migrations

# Each append notes the log's head in the public schema's `tenants_tenantwork`, in the same
# transaction, so the periodic jobs find the tenants with new events without visiting every
# schema (apps/core/tenancy.py). One statement-level trigger per append statement.
NOTE_HEAD = """
CREATE OR REPLACE FUNCTION public.mymedic_note_events_head() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tenants_tenantwork (tenant_id, job, position)
    SELECT tenant.id, 'events', head.position
    FROM public.tenants_tenant AS tenant,
         (SELECT max(position) AS position FROM appended) AS head
    WHERE tenant.schema_name = TG_TABLE_SCHEMA AND head.position IS NOT NULL
    ON CONFLICT (tenant_id, job) DO UPDATE
        SET position = GREATEST(public.tenants_tenantwork.position, EXCLUDED.position);
    RETURN NULL;
END
$$;
"""

TRIGGER = """
CREATE TRIGGER eventstore_event_note_head
    AFTER INSERT ON eventstore_event REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_note_events_head();
"""

DROP_TRIGGER = "DROP TRIGGER IF EXISTS eventstore_event_note_head ON eventstore_event;"


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0004_event_date_index")]

    operations = [
        migrations.RunSQL(NOTE_HEAD, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(TRIGGER, reverse_sql=DROP_TRIGGER),
    ]
