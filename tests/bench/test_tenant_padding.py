"""The idle bench pads the directory with schema-less copies of a tenant, then takes them out."""

from django.db import connection

from apps.bench import tenants
from apps.directory.models import TenantLocation
from apps.plans.models import Subscription
from apps.tenants.models import Domain, Tenant, TenantWork


def test_padding_copies_a_tenants_public_rows_without_schemas_and_unpadding_removes_them(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    before = Tenant.objects.exclude(schema_name="public").count()
    newest = (
        Tenant.objects.exclude(schema_name__in=["public", "tenant_template"])
        .order_by("-created")
        .first()
    )
    assert newest is not None
    jobs = sorted(TenantWork.objects.filter(tenant=newest).values_list("job", "position"))

    added = tenants.pad_tenants(before + 5, lambda _: None, batch=2)

    assert added == 5
    pads = Tenant.objects.filter(schema_name__startswith=tenants.PAD_PREFIX)
    assert pads.count() == 5
    for pad in pads:
        assert sorted(TenantWork.objects.filter(tenant=pad).values_list("job", "position")) == jobs
        assert Domain.objects.filter(tenant=pad, is_primary=True).count() == 1
        assert Subscription.objects.filter(tenant=pad).count() == 1
        assert TenantLocation.objects.filter(slug=pad.slug).count() == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s",
            [f"{tenants.PAD_PREFIX}%"],
        )
        assert cursor.fetchone() == (0,)

    tenants.unpad_tenants()

    assert not Tenant.objects.filter(schema_name__startswith=tenants.PAD_PREFIX).exists()
    assert not TenantLocation.objects.filter(slug__startswith="idle-pad-").exists()
    assert Tenant.objects.exclude(schema_name="public").count() == before
