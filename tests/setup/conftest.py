import pytest

from apps.clinic.models import Role, User
from apps.tenants.models import Tenant
from tests.conftest import HostClient


@pytest.fixture
def owner_web(api: HostClient, owner: User) -> HostClient:
    """The owner of the main test tenant, signed in to the web pages."""
    api.force_login(owner)
    return api


@pytest.fixture
def manager(tenant: Tenant) -> User:
    from tests.clinic.factories import UserFactory

    return UserFactory(role=Role.MANAGER)  # type: ignore[no-any-return]
