"""Branch scoping: the one place that decides which branches a user may see.

The API, the web console and the admin all scope through these functions, so a user
limited to some branches meets the others nowhere (the API answers 404 for them).
"""

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest

from apps.clinic.models import Branch, User

M = TypeVar("M", bound=Model)


def staff_of(request: HttpRequest) -> User:
    """The signed-in staff member of a request that authentication has already let through."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionError("This view needs a signed-in staff member.")
    return user


def visible_branches(user: User) -> QuerySet[Branch]:
    if user.sees_all_branches:
        return Branch.objects.all()
    return user.branches.all()


def scope_to_branches(
    queryset: QuerySet[M], user: User, branch_field: str = "branch"
) -> QuerySet[M]:
    """Rows of `queryset` whose `branch_field` is a branch `user` may see."""
    if user.sees_all_branches:
        return queryset
    return queryset.filter(**{f"{branch_field}__in": user.branches.values("pk")})


def can_see_branch(user: User, branch_id: int) -> bool:
    return user.sees_all_branches or user.branches.filter(pk=branch_id).exists()
