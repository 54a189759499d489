from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("eventstore", "0002_append_only_triggers")]

    operations = [
        migrations.RunSQL(
            """
            CREATE TRIGGER audit_entry_append_only
                BEFORE UPDATE OR DELETE ON audit_auditentry
                FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change();
            CREATE TRIGGER audit_entry_no_truncate
                BEFORE TRUNCATE ON audit_auditentry
                FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_refuse_change();
            """,
            reverse_sql="""
            DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry;
            DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_auditentry;
            """,
        )
    ]
