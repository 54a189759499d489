"""Branch scoping: the one place that decides which branches a user may see.

The API, the web console and the admin all scope through these functions, so a user
limited to some branches meets the others nowhere (the API answers 404 for them).
"""

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest

from apps.clinic.models import Branch, User
from apps.core.db import connection
from apps.core.errors import NotFound
from apps.core.shortlived import ShortLived

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


def branch_ids(user: User) -> frozenset[int]:
    """The branches a user is bound to (from the token's principal when it carries them)."""
    return frozenset(branch.pk for branch in user.branches.all())


def can_see_branch(user: User, branch_id: int) -> bool:
    return user.sees_all_branches or branch_id in branch_ids(user)


# A branch's row by id, kept at most a second per process (apps/core/shortlived.py).
_branches: ShortLived[Branch] = ShortLived("branches")


def branch_in_reach(user: User, pk: int) -> Branch:
    """The branch `pk` if `user` may see it; else 404, whether it exists elsewhere or not."""
    branch = _branches.get(
        (connection.schema_name, pk), lambda: Branch.objects.filter(pk=pk).first()
    )
    if branch is None or not can_see_branch(user, branch.pk):
        raise NotFound("Branch not found.")
    return branch
