import django.db.models.deletion
from django.db import migrations, models

# A statement stays append-only, with two exceptions. Its tenant may change, from a tenant to
# none when the tenant is removed (erased, or replaced by a restore) and from none to the
# tenant a restore brings back, every other column staying as it was. And it may leave this
# database with its tenant when the tenant moves to another cell, which carries it: the move
# says so for its transaction only (`SET LOCAL mymedic.moved_tenant = <tenant id>`).
KEEP_BUT_FORGET_TENANT = """
CREATE OR REPLACE FUNCTION public.plans_statement_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.tenant_id IS NULL OR OLD.tenant_id IS NULL)
       AND (to_jsonb(NEW) - 'tenant_id') = (to_jsonb(OLD) - 'tenant_id') THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE'
       AND OLD.tenant_id::text = current_setting('mymedic.moved_tenant', true) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% on %.% is not allowed: the table is append-only',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
DROP TRIGGER IF EXISTS plans_statement_append_only ON plans_statement;
CREATE TRIGGER plans_statement_append_only BEFORE UPDATE OR DELETE ON plans_statement
FOR EACH ROW EXECUTE FUNCTION public.plans_statement_refuse_change();
"""

REFUSE_EVERY_CHANGE = """
DROP TRIGGER IF EXISTS plans_statement_append_only ON plans_statement;
CREATE TRIGGER plans_statement_append_only BEFORE UPDATE OR DELETE ON plans_statement
FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change();
DROP FUNCTION IF EXISTS public.plans_statement_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("plans", "0004_plan_log_retention")]

    operations = [
        migrations.AlterField(
            model_name="statement",
            name="tenant",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="tenants.tenant",
            ),
        ),
        migrations.RunSQL(KEEP_BUT_FORGET_TENANT, reverse_sql=REFUSE_EVERY_CHANGE),
    ]
