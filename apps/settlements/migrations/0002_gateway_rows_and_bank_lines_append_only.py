from django.db import migrations

from apps.core.db import append_only


# What a gateway reported and what the bank credited are ledger rows: never changed or
# removed once imported (a settlement's figures are derived from them).
class Migration(migrations.Migration):
    dependencies = [
        ("eventstore", "0002_append_only_triggers"),
        ("settlements", "0001_initial"),
    ]

    operations = [
        append_only(
            "settlements_gatewayrow", "settlements_bankline", "settlements_gatewaypayment"
        )
    ]
