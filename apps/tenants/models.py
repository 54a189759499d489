"""Public schema: one row per clinic, chain or hospital, and its host names."""

from django.db import models
from django.utils import timezone as dj_timezone
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    class Kind(models.TextChoices):
        CLINIC = "clinic", "Clinic"
        CHAIN = "chain", "Clinic chain"
        HOSPITAL = "hospital", "Hospital OPD"

    class Plan(models.TextChoices):
        TRIAL = "trial", "Trial"
        STANDARD = "standard", "Standard"
        ENTERPRISE = "enterprise", "Enterprise"

    slug = models.SlugField(max_length=31, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Data residency: a later phase routes a tenant to its region's database.
    region = models.CharField(max_length=16, default="in")
    timezone = models.CharField(max_length=64, default="Asia/Kolkata")
    currency = models.CharField(max_length=3, default="INR")
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.TRIAL)
    created = models.DateTimeField(auto_now_add=True)
    # When the owner proved the email address: until then nothing is sent to patients, and an
    # unverified tenant is removed after MYMEDIC_UNVERIFIED_TENANT_DAYS (see `verification`).
    verified_at = models.DateTimeField(null=True, blank=True)
    # Set while the tenant is being moved to another cell (`apps.tenants.moves`), and for
    # good on the cell it left: commands answer 503 and periodic jobs pass it by.
    moving_at = models.DateTimeField(null=True, blank=True)

    # The schema is made inside the onboarding transaction; a failure rolls it back whole.
    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class TenantWork(models.Model):
    """Where each tenant's periodic work stands, so beat finds the tenants that have work in
    one query instead of visiting every schema (`apps.core.tenancy`).

    Rows named after a log (`events`, `audit`) hold the highest position appended there; the
    tenant schema's triggers keep them, inside the appending transaction. A row named after a
    periodic job holds the position that job last covered and when it is next due.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    job = models.CharField(max_length=40)
    position = models.BigIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "job"], name="tenant_work_once_per_job")
        ]
        indexes = [models.Index(fields=["job", "due_at"], name="tenant_work_due")]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.job}"


class SchemaMigration(models.Model):
    """Where `manage.py migrate_tenants` stands in each schema of this database: the public
    schema, the tenant template, the signup pool's spare schemas and every tenant.

    `target` is the digest of the migrations the runner brought the schema to (the leaf
    migration of every app); a schema whose status is `done` for the current digest is at the
    latest migrations. Written by the runner only (`apps.tenants.migrator`), never by hand.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    schema = models.CharField(max_length=63, unique=True)
    target = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # The exception's type and text; kept here for the operator, never logged (it may quote a row).
    error = models.TextField(blank=True)
    applied = models.PositiveIntegerField(default=0, help_text="migrations applied by the last run")
    runner = models.CharField(max_length=100, blank=True, help_text="host:pid of the last runner")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["schema"]
        indexes = [models.Index(fields=["status", "schema"], name="schema_migration_status")]

    def __str__(self) -> str:
        return f"{self.schema} ({self.status})"


class SpareSchema(models.Model):
    """A ready tenant schema (`spare_<12 hex>`), made and migrated off the sign-up path, that a
    sign-up takes by renaming it (`apps.tenants.spares`): signing up then costs the same with
    ten tenants or ten thousand. The row stays after the claim as the record of who got it.

    A spare holds no keys and no rows of its own beyond the template's: everything that names
    a tenant (its key, branch, owner) is made at the claim, under the tenant's schema name.
    """

    class Method(models.TextChoices):
        REPLAY = "replay", "Replayed the template's definitions"
        MIGRATE = "migrate", "Ran every migration"
        CLONE = "clone", "Cloned the template (clone_schema)"

    schema_name = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Digest of the schema's applied migrations; a spare is claimed only when it matches the
    # code's (`spares.code_migrations`), so a sign-up never gets a schema behind the code.
    migrations = models.CharField(max_length=64)
    migration_count = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=16, choices=Method.choices)
    seconds = models.FloatField(help_text="How long making it took.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_as = models.CharField(max_length=63, blank=True, help_text="The tenant's schema.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["migrations", "id"],
                condition=models.Q(claimed_at__isnull=True),
                name="spare_schema_ready",
            )
        ]

    def __str__(self) -> str:
        return self.schema_name


class SpareRecipe(models.Model):
    """The template schema's definitions and rows as SQL (`apps.tenants.spares.recipe`), one
    per migration state of the template. Dumping it reads the whole database's catalog, which
    grows with the tenants (0.3 s at 5 schemas, 124 s at 607), so it is dumped by upkeep
    (`migrate_all`, `spare_schemas --fill`) and kept here, never on a time-limited task."""

    migrations = models.CharField(max_length=64, unique=True)
    sql = models.TextField()
    made_at = models.DateTimeField(default=dj_timezone.now)
    seconds = models.FloatField(help_text="How long the dump took.")

    def __str__(self) -> str:
        return f"recipe {self.migrations[:12]}"
