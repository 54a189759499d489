"""How long a tenant's event log and audit trail stay live: the one home of the rule.

The legal floor: the Indian Medical Council (Professional Conduct, Etiquette and Ethics)
Regulations, 2002, regulation 1.3.1, require a physician to keep the medical records of
patients for 3 years from the start of treatment. The project's docs name no other figure,
so 36 months is the minimum here; a plan may keep more, and a tenant may be given more (or,
never below the minimum, less than its plan).
"""

from django.conf import settings

LEGAL_MINIMUM_MONTHS = 36
REFUSAL = (
    f"Retention must be at least {LEGAL_MINIMUM_MONTHS} months: medical records are kept "
    "for 3 years (Indian Medical Council Regulations 2002, 1.3.1)."
)


def retention_months(schema_name: str) -> int:
    """Months of live log this tenant keeps: its override, else its plan's, else the
    default (`MYMEDIC_LOG_RETENTION_MONTHS`); never below the legal minimum."""
    from apps.archive.models import RetentionOverride
    from apps.plans.models import Subscription

    override = RetentionOverride.objects.values_list("months", flat=True).first()
    if override is not None:
        return max(override, LEGAL_MINIMUM_MONTHS)
    plan_months = (
        Subscription.objects.filter(tenant__schema_name=schema_name)
        .values_list("plan__log_retention_months", flat=True)
        .first()
    )
    months = plan_months if plan_months is not None else settings.MYMEDIC_LOG_RETENTION_MONTHS
    return max(int(months), LEGAL_MINIMUM_MONTHS)
