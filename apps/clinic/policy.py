"""What each role may do in the admin: the one table the admin asks.

No role is a Django superuser. A staff member signs in to the admin when their role is in
`ADMIN_ROLES`, and sees exactly the screens this table gives their role; a model that is not
here (events, projections, tokens, groups) is for platform operators only, that is a
superuser an operator made with `createsuperuser`. Branch limits come from
`apps.clinic.scoping`, as everywhere else.
"""

from dataclasses import dataclass

from apps.clinic.models import WHOLE_TENANT_ROLES, Role

MANAGERS: frozenset[str] = WHOLE_TENANT_ROLES
ADMIN_ROLES: frozenset[str] = MANAGERS | {Role.BRANCH_MANAGER}
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Screen:
    view: frozenset[str]
    add: frozenset[str] = NOBODY
    change: frozenset[str] = NOBODY
    delete: frozenset[str] = NOBODY


# Keyed by the model's `app_label.model_name`. Nothing is deleted in the admin, except a
# tenant's own message wording (which falls back to the shipped default).
ADMIN_SCREENS: dict[str, Screen] = {
    "clinic.branch": Screen(view=ADMIN_ROLES, add=MANAGERS),
    "clinic.user": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "scheduling.doctor": Screen(view=ADMIN_ROLES, add=ADMIN_ROLES, change=ADMIN_ROLES),
    "scheduling.patient": Screen(view=MANAGERS),
    "scheduling.appointment": Screen(view=ADMIN_ROLES),
    "scheduling.waitlistentry": Screen(view=ADMIN_ROLES),
    "scheduling.slothold": Screen(view=ADMIN_ROLES),
    "scheduling.noshowpolicy": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "scheduling.schedulingsettings": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "billing.billingsettings": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "billing.invoice": Screen(view=ADMIN_ROLES),
    "billing.payment": Screen(view=ADMIN_ROLES),
    "billing.refund": Screen(view=ADMIN_ROLES),
    "billing.invoiceadjustment": Screen(view=ADMIN_ROLES),
    "billing.gstsupplier": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "billing.gstrate": Screen(view=MANAGERS, add=MANAGERS),
    "billing.gstdocument": Screen(view=ADMIN_ROLES),
    "reconciliation.dailyclose": Screen(view=ADMIN_ROLES),
    "reconciliation.signoff": Screen(view=ADMIN_ROLES),
    "audit.auditentry": Screen(view=MANAGERS),
    "notifications.notificationsettings": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "notifications.messagetemplate": Screen(
        view=MANAGERS, add=MANAGERS, change=MANAGERS, delete=MANAGERS
    ),
    "notifications.delivery": Screen(view=MANAGERS),
    "notifications.deadletter": Screen(view=MANAGERS),
    "patientapp.patientappsettings": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "settlements.settlementsettings": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "settlements.branchupi": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "settlements.exceptionitem": Screen(view=MANAGERS),
    "settlements.importedfile": Screen(view=MANAGERS),
    "settlements.settlement": Screen(view=MANAGERS),
    "settlements.gatewayrow": Screen(view=MANAGERS),
    "settlements.bankline": Screen(view=MANAGERS),
    "settlements.webhookdelivery": Screen(view=MANAGERS),
    "integration.channel": Screen(view=MANAGERS, add=MANAGERS, change=MANAGERS),
    "integration.message": Screen(view=MANAGERS, change=MANAGERS),
    "integration.mappingversion": Screen(view=MANAGERS, add=MANAGERS),
    "integration.outboundmessage": Screen(view=MANAGERS),
    "integration.applicationack": Screen(view=MANAGERS),
    "queue.displaylink": Screen(view=ADMIN_ROLES),
}

# Screens whose actions (check in, sign off, retry...) a role may use; each action's
# command checks role and branch again.
ADMIN_ACTIONS: dict[str, frozenset[str]] = {
    "scheduling.appointment": ADMIN_ROLES,
    "reconciliation.dailyclose": ADMIN_ROLES,
    "notifications.deadletter": MANAGERS,
    "audit.auditentry": MANAGERS,
    "settlements.exceptionitem": MANAGERS,
    "integration.channel": MANAGERS,
    "integration.message": MANAGERS,
    "integration.mappingversion": MANAGERS,
    "integration.outboundmessage": MANAGERS,
    "integration.applicationack": MANAGERS,
    "queue.displaylink": ADMIN_ROLES,
}

NO_SCREEN = Screen(view=NOBODY)


def may_use_admin(role: str) -> bool:
    """Whether a staff member of `role` signs in to the admin (Django's `is_staff`)."""
    return role in ADMIN_ROLES


def screen(model_label: str) -> Screen:
    """The roles that may view, add, change and delete rows of a model in the admin."""
    return ADMIN_SCREENS.get(model_label, NO_SCREEN)


def may_act(model_label: str, role: str | None) -> bool:
    return role in ADMIN_ACTIONS.get(model_label, NOBODY)
