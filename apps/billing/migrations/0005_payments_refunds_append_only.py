from django.db import migrations

# Money taken and money paid back are the ledger: like events and the audit trail, once
# written a row is never changed or removed (balances are derived from them).
APPEND_ONLY = """
CREATE TRIGGER billing_payment_append_only
    BEFORE UPDATE OR DELETE ON billing_payment
    FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change();
CREATE TRIGGER billing_payment_no_truncate
    BEFORE TRUNCATE ON billing_payment
    FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_refuse_change();
CREATE TRIGGER billing_refund_append_only
    BEFORE UPDATE OR DELETE ON billing_refund
    FOR EACH ROW EXECUTE FUNCTION public.mymedic_refuse_change();
CREATE TRIGGER billing_refund_no_truncate
    BEFORE TRUNCATE ON billing_refund
    FOR EACH STATEMENT EXECUTE FUNCTION public.mymedic_refuse_change();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS billing_payment_append_only ON billing_payment;
DROP TRIGGER IF EXISTS billing_payment_no_truncate ON billing_payment;
DROP TRIGGER IF EXISTS billing_refund_append_only ON billing_refund;
DROP TRIGGER IF EXISTS billing_refund_no_truncate ON billing_refund;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("eventstore", "0002_append_only_triggers"),
        ("billing", "0004_discounts_and_credit_notes"),
    ]

    operations = [migrations.RunSQL(APPEND_ONLY, reverse_sql=DROP_APPEND_ONLY)]
