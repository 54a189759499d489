"""Tenant test data, made by the onboarding command (schema, domain, owner and branch)."""

from typing import Any

import factory

from apps.tenants.commands import tenant_onboard
from apps.tenants.models import Tenant


class TenantFactory(factory.Factory):
    """A self-service sign-up, not yet confirmed unless `verified`."""

    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"clinic-{n}")
    clinic_name = factory.LazyAttribute(lambda o: f"{o.slug.title()} Clinic")
    kind = "clinic"
    owner_name = "Nisha Verma"
    owner_email = factory.LazyAttribute(lambda o: f"nisha@{o.slug}.example.com")
    owner_password = "a-long-unusual-passphrase"

    @classmethod
    def _create(cls, model_class: type[Tenant], **kwargs: Any) -> Tenant:
        return tenant_onboard(**kwargs).tenant
