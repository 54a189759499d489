from django.db import migrations, models

# Asked by the append lock (apps/eventstore/locks.py) right after the lock is granted, in the
# same statement: a VOLATILE function's query takes a fresh snapshot, so it sees a pause that
# was committed while the lock was awaited.
TENANT_MOVING_FUNCTION = """
CREATE OR REPLACE FUNCTION public.mymedic_tenant_moving() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM public.tenants_tenant
        WHERE schema_name = current_schema() AND moving_at IS NOT NULL
    );
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("tenants", "0004_schema_migration_progress")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="moving_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            TENANT_MOVING_FUNCTION,
            reverse_sql="DROP FUNCTION IF EXISTS public.mymedic_tenant_moving();",
        ),
    ]
