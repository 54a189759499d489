"""The organisation inside a tenant: branches and the staff who work in them."""

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.timezones import validate_timezone
from apps.eventstore.models import EventSourcedModel


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    RECEPTIONIST = "receptionist", _("Receptionist")
    DOCTOR = "doctor", _("Doctor")


# Roles that see every branch of the tenant; every other role sees only its own branches.
WHOLE_TENANT_ROLES = frozenset({Role.OWNER, Role.MANAGER})


class Branch(EventSourcedModel):
    stream_type = "branch"

    name = models.CharField(max_length=120)
    city = models.CharField(max_length=120, blank=True)
    # Printed on receipts; filled in at set-up.
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    # IANA name; the tenant's timezone when none was given.
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "branches"
        constraints = [models.UniqueConstraint(fields=["name"], name="branch_name_unique")]

    def __str__(self) -> str:
        return self.name

    def event_branch_id(self) -> int | None:
        return self.pk


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> "User":
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=Role.OWNER)
        return self.create_user(email, password, **fields)


# The languages a staff member may choose for the console (English stays the clinic's locale,
# en-IN, for dates and money).
STAFF_LANGUAGES = (("en", "English"), ("hi", "हिन्दी (Hindi)"))


class User(AbstractBaseUser, PermissionsMixin):
    """A staff member of one tenant; signs in with their email."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150)
    role = models.CharField(max_length=20, choices=Role.choices)
    branches = models.ManyToManyField(Branch, blank=True, related_name="staff")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May sign in to the admin.")
    date_joined = models.DateTimeField(default=timezone.now)
    # The language of the console pages that speak more than English (apps/clinic/language.py).
    language = models.CharField(max_length=5, choices=STAFF_LANGUAGES, default="en")

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.email

    @property
    def sees_all_branches(self) -> bool:
        return self.role in WHOLE_TENANT_ROLES


class SignInLinkUse(models.Model):
    """The nonce of a single-use sign-in link that has been used; a second use is refused
    because the nonce is unique here (see `apps.clinic.handoff`)."""

    nonce = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    used_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sign-in link used by user {self.user_id}"


class StaffToken(models.Model):
    """An API token of a staff member, stored only as the SHA-256 of its key (the key is shown
    once, when issued). It dies when unused for MYMEDIC_TOKEN_IDLE_HOURS (`last_used` slides),
    at `expires` whatever the use, on sign-out, and with every token of its user when the
    password changes or is reset."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    created = models.DateTimeField()
    last_used = models.DateTimeField()
    expires = models.DateTimeField()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"Staff token {self.pk}"
