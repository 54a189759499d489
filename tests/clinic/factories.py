from typing import Any

import factory
from factory.django import DjangoModelFactory

from apps.clinic.commands import branch_create
from apps.clinic.models import Branch, Role, User

STAFF_PASSWORD = "staff-password-2026"


class BranchFactory(factory.Factory):
    """Branches are event-sourced: made through the command, as the product makes them."""

    class Meta:
        model = Branch

    name = factory.Sequence(lambda n: f"Branch {n}")
    city = "Pune"
    timezone = "Asia/Kolkata"

    @classmethod
    def _create(cls, model_class: type[Branch], **kwargs: Any) -> Branch:
        return branch_create(actor=None, **kwargs)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    name = factory.Faker("name")
    role = Role.RECEPTIONIST
    password = factory.PostGenerationMethodCall("set_password", STAFF_PASSWORD)

    @factory.post_generation
    def branches(self, create: bool, extracted: list[Branch] | None, **kwargs: object) -> None:
        if create and extracted:
            self.branches.set(extracted)  # type: ignore[attr-defined]
        if create:
            self.save()  # type: ignore[attr-defined]
