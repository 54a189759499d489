from django.db import migrations

from apps.core.db import append_only


# Money taken and money paid back are the ledger: like events and the audit trail, once
# written a row is never changed or removed (balances are derived from them).
class Migration(migrations.Migration):
    dependencies = [
        ("eventstore", "0002_append_only_triggers"),
        ("billing", "0004_discounts_and_credit_notes"),
    ]

    operations = [append_only("billing_payment", "billing_refund")]
