from django.db import migrations

# One function in `public` serves every tenant's triggers; each schema gets its own triggers.
REFUSE_CHANGE = """
CREATE OR REPLACE FUNCTION public.mymedic_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is not allowed: the table is append-only',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

TRIGGERS = """
CREATE TRIGGER eventstore_event_append_only
    BEFORE UPDATE OR DELETE ON eventstore_event
    FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change();
CREATE TRIGGER eventstore_event_no_truncate
    BEFORE TRUNCATE ON eventstore_event
    FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_refuse_change();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS eventstore_event_append_only ON eventstore_event;
DROP TRIGGER IF EXISTS eventstore_event_no_truncate ON eventstore_event;
"""


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0001_initial")]

    operations = [
        migrations.RunSQL(REFUSE_CHANGE, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(TRIGGERS, reverse_sql=DROP_TRIGGERS),
    ]
