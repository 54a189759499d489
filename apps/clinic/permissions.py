"""DRF permission pieces: which roles may use a route at all (403 otherwise)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.clinic.models import WHOLE_TENANT_ROLES, Role

STAFF_ROLES = frozenset(Role.values)


class RolePermission(BasePermission):
    """Allows the roles in `read_roles` to read and those in `write_roles` to write."""

    read_roles: frozenset[str] = STAFF_ROLES
    write_roles: frozenset[str] = STAFF_ROLES
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        roles = self.read_roles if request.method in SAFE_METHODS else self.write_roles
        return getattr(user, "role", None) in roles


def roles(*, read: frozenset[str], write: frozenset[str]) -> type[RolePermission]:
    return type("Roles", (RolePermission,), {"read_roles": read, "write_roles": write})


ManagersOnly = roles(read=WHOLE_TENANT_ROLES, write=WHOLE_TENANT_ROLES)
StaffReadManagersWrite = roles(read=STAFF_ROLES, write=WHOLE_TENANT_ROLES)
