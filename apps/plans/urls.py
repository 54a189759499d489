from django.urls import path

from apps.clinic.models import Role
from apps.clinic.permissions import roles
from apps.plans.api import SubscriptionApi

OWNERS = frozenset({Role.OWNER})

urlpatterns = [
    path(
        "subscription/",
        SubscriptionApi.as_view(permission_classes=[roles(read=OWNERS, write=OWNERS)]),
        name="api-subscription",
    ),
]
