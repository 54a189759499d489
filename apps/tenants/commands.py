"""Tenant commands: self-onboarding (schema, domain, first branch and owner in one go), the
pool of spare schemas it claims from, and restoring a tenant from a backup."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone as dj_timezone
from django_tenants.utils import get_public_schema_name, schema_context

from apps.audit.trail import record
from apps.clinic.commands import branch_create, staff_create, staff_language_set
from apps.clinic.models import Branch, Role, User
from apps.core import idempotency, keys
from apps.core.db import connection
from apps.core.errors import Conflict, InvalidInput
from apps.core.keys import ensure_tenant_key
from apps.core.partitions import copy_partitioned_foreign_keys, ensure_ahead
from apps.core.timezones import timezone_problem
from apps.core.wakeups import after_commit
from apps.directory.cells import place, region_problem, this_cell
from apps.directory.commands import TAKEN, location_register, location_reserve
from apps.directory.forward import call_cell
from apps.directory.models import TenantLocation
from apps.directory.selectors import location_of
from apps.eventstore.projections import Touched
from apps.eventstore.readcache import bump_generations
from apps.plans.commands import statements_reattach, subscription_start_trial
from apps.scheduling.keyrotation import rebind_patients
from apps.tenants import backups, spares
from apps.tenants.models import Domain, SpareSchema, Tenant
from apps.tenants.rules import currency_problem, schema_name_for, slug_problem
from apps.tenants.verification import send_verification

logger = logging.getLogger(__name__)

FIRST_BRANCH_NAME = "Main branch"


@dataclass(frozen=True)
class Onboarded:
    tenant: Tenant
    domain: str
    owner_id: int
    seconds: float


def tenant_domain(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def onboarding_problems(
    *,
    slug: str,
    kind: str,
    owner_name: str,
    owner_email: str,
    owner_password: str,
    timezone: str,
    currency: str,
    region: str,
) -> dict[str, list[str]]:
    """Every reason the sign-up cannot go ahead, by field (empty when it can)."""
    problems: dict[str, list[str]] = {}
    if problem := slug_problem(slug):
        problems["slug"] = [problem]
    elif Tenant.objects.filter(slug=slug).exists() or location_of(slug) is not None:
        # The directory knows the slugs of every cell: an address is unique across regions.
        problems["slug"] = [TAKEN]
    if problem := region_problem(region):
        problems["region"] = [problem]
    if kind not in Tenant.Kind.values:
        problems["kind"] = [f"Choose one of: {', '.join(Tenant.Kind.values)}."]
    if problem := timezone_problem(timezone):
        problems["timezone"] = [problem]
    if problem := currency_problem(currency):
        problems["currency"] = [problem]
    try:
        validate_password(owner_password, User(email=owner_email, name=owner_name))
    except ValidationError as exc:
        problems["owner_password"] = list(exc.messages)
    return problems


def tenant_onboard(
    *,
    clinic_name: str,
    slug: str,
    kind: str,
    owner_name: str,
    owner_email: str,
    owner_password: str,
    timezone: str = "Asia/Kolkata",
    currency: str = "INR",
    region: str | None = None,
    verified: bool = False,
    owner_language: str = "en",
) -> Onboarded:
    """Creates the tenant whole, or nothing, in this cell: schema, domain, owner and branch in
    one transaction, and its place in the directory (`region`: this cell's by default; a
    region this cell does not serve is refused, `tenant_sign_up` picks the cell).

    The schema is a spare from the pool, renamed (`apps.tenants.spares`); when none is ready,
    a clone of the template (slower, and slower the more schemas the database holds). Either
    way the tenant's key is made here, under its own schema's name.

    A self-service sign-up is not `verified` until its owner opens the emailed link
    (`apps.tenants.verification`); tenants an operator makes (demo, workloads) are.
    `owner_language`: the owner's console language, the one the sign-up page spoke."""
    started = time.perf_counter()
    region = region or this_cell().region
    problems = onboarding_problems(
        slug=slug,
        kind=kind,
        owner_name=owner_name,
        owner_email=owner_email,
        owner_password=owner_password,
        timezone=timezone,
        currency=currency,
        region=region,
    )
    if problems:
        raise InvalidInput(errors=problems)
    reservation = location_reserve(
        actor=None, slug=slug, region=region, hosts=[tenant_domain(slug)]
    )
    tenant_committed = False
    try:
        with reservation:
            with transaction.atomic():
                tenant = Tenant(
                    schema_name=schema_name_for(slug),
                    slug=slug,
                    name=clinic_name.strip(),
                    kind=kind,
                    region=region,
                    timezone=timezone,
                    currency=currency,
                    verified_at=dj_timezone.now() if verified else None,
                )
                spare = spares.claim(tenant.schema_name)
                if spare is None:
                    logger.warning("no spare schema ready; cloning schema=%s", tenant.schema_name)
                tenant.auto_create_schema = spare is None
                tenant.save(verbosity=0)
                if spare is None:
                    copy_partitioned_foreign_keys(settings.TENANT_BASE_SCHEMA, tenant.schema_name)
                domain = Domain.objects.create(domain=tenant_domain(slug), tenant=tenant)
                with schema_context(tenant.schema_name):
                    ensure_ahead()  # a spare may be older than this month's log partitions
                    ensure_tenant_key()
                    branch_create(actor=None, name=FIRST_BRANCH_NAME, timezone=timezone)
                    owner = staff_create(
                        actor=None,
                        name=owner_name,
                        email=owner_email,
                        password=owner_password,
                        role=Role.OWNER,
                    )
                    if owner_language != owner.language:
                        staff_language_set(actor=owner, language=owner_language)
                subscription_start_trial(actor="sign-up", tenant=tenant)
            tenant_committed = True
    except DatabaseError as exc:
        if isinstance(exc, IntegrityError) and not tenant_committed:
            # Two sign-ups raced for the same address; the unique index let one through.
            raise InvalidInput(errors={"slug": [TAKEN]}) from exc
        if not tenant_committed or settings.MYMEDIC_DIRECTORY_SHARED:
            raise
        # The tenant is whole here; only its place in the separate directory database was
        # lost. The directory repair (beat, every minute) records it; until then its host
        # answers 404 at the edge and `mymedic_tenants_unrouted` counts it.
        logger.error(
            "tenant committed but the directory did not record it slug=%s error=%s", slug, exc
        )
    after_commit(top_up_spare_schemas_soon, what="spare schema top-up")
    seconds = time.perf_counter() - started
    logger.info(
        "tenant onboarded schema=%s spare=%s seconds=%.3f",
        tenant.schema_name, spare.schema_name if spare else "-", seconds,
    )  # fmt: skip
    return Onboarded(tenant=tenant, domain=domain.domain, owner_id=owner.pk, seconds=seconds)


def tenants_unrouted() -> list[str]:
    """Slugs of this cell's tenants that the directory does not know, so the edge cannot route
    them: tenants made before the directory existed, or a sign-up whose tenant committed here
    while the directory's separate database failed to commit its place. Two queries,
    whatever the tenant count."""
    here = set(Tenant.objects.exclude(schema_name="public").values_list("slug", flat=True))
    known = set(TenantLocation.objects.filter(slug__in=here).values_list("slug", flat=True))
    return sorted(here - known)


def tenants_register_in_directory() -> list[str]:
    """Records this cell's tenants that the directory does not know yet (`tenants_unrouted`);
    the slugs it added."""
    unrouted = Tenant.objects.filter(slug__in=tenants_unrouted()).prefetch_related("domains")
    return [
        tenant.slug
        for tenant in unrouted
        if location_register(
            actor=None,
            slug=tenant.slug,
            region=tenant.region,
            hosts=[
                domain.domain
                for domain in sorted(
                    tenant.domains.all(), key=lambda d: (not d.is_primary, d.domain)
                )
            ],
        )
    ]


@dataclass(frozen=True)
class SignedUp:
    slug: str
    domain: str
    region: str
    schema_name: str
    owner_id: int


def tenant_sign_up(*, site_url: str, region: str, **fields: Any) -> SignedUp:
    """A self-service sign-up in `region`: onboarded in the region's cell that has room (400 for
    a region not served, 503 when every cell of it is full), here or, when that cell is
    another, by that cell's internal onboarding over loopback (`apps.directory.forward`). The
    cell that makes the tenant also queues its confirmation email (site_url: the public site),
    in the owner's language."""
    cell = place(region)
    if not cell.is_here:
        body = call_cell(cell, "onboarding/", {**fields, "region": region, "site_url": site_url})
        return SignedUp(**{key: body[key] for key in SignedUp.__dataclass_fields__})
    onboarded = tenant_onboard(region=region, **fields)
    send_verification(
        onboarded.tenant, fields["owner_email"], site_url, fields.get("owner_language", "en")
    )
    return SignedUp(
        slug=onboarded.tenant.slug,
        domain=onboarded.domain,
        region=onboarded.tenant.region,
        schema_name=onboarded.tenant.schema_name,
        owner_id=onboarded.owner_id,
    )


def top_up_spare_schemas_soon() -> None:
    from apps.tenants.tasks import top_up_spare_schemas

    top_up_spare_schemas.apply_async(headers={"_schema_name": get_public_schema_name()})


@dataclass(frozen=True)
class ToppedUp:
    made: list[SpareSchema]
    ready: int
    skipped: str = ""


# One top-up at a time per database (a session advisory lock; a second caller leaves at once).
TOP_UP_LOCK = 0x5350415245  # "SPARE"


def spare_schemas_top_up(
    *,
    actor: None,
    target: int | None = None,
    method: str | None = None,
    progress: Callable[[int], None] = lambda made: None,
) -> ToppedUp:
    """Makes spare schemas until `target` (default `MYMEDIC_SPARE_SCHEMAS`) are ready, each in
    its own transaction; `progress(1)` after each. Does nothing while another top-up runs or
    while the template is behind the code (spares made from it could never be claimed).

    By default spares are replayed from the stored recipe, or migrated while upkeep has not
    stored one yet (dumping it here could outlast the task's time limit)."""
    target = settings.MYMEDIC_SPARE_SCHEMAS if target is None else target
    with schema_context(get_public_schema_name()):
        if method is None:
            stored = spares.recipe(dump=False) is not None
            method = SpareSchema.Method.REPLAY if stored else SpareSchema.Method.MIGRATE
        if not spares.template_is_current():
            logger.warning("spare schemas not made: the template is behind the code; migrate it")
            return ToppedUp([], spares.ready().count(), skipped="template behind the code")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [TOP_UP_LOCK])
            (locked,) = cursor.fetchone()
        if not locked:
            return ToppedUp([], spares.ready().count(), skipped="another top-up is running")
        made: list[SpareSchema] = []
        try:
            while spares.ready().count() < target:
                made.append(spares.make(method))
                progress(1)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [TOP_UP_LOCK])
        ready = spares.ready().count()
    if made:
        logger.info("spare schemas made count=%s ready=%s", len(made), ready)
    return ToppedUp(made, ready)


@dataclass(frozen=True)
class Restored:
    tenant: Tenant
    domains: list[str]
    events: int
    seconds: float


def tenant_restore(
    *,
    actor: None,
    path: Path,
    as_slug: str | None = None,
    replace: bool = False,
    progress: backups.Progress = backups.silent,
) -> Restored:
    """Restores a tenant from a backup (`apps.tenants.backups`), under its own slug or
    `as_slug`, into this database; refuses a slug in use unless `replace` (the backup is then
    loaded beside that tenant and swapped in for it in one transaction).

    Under a new slug the tenant gets its new host name only, and its sealed values (tenant
    keys, patients, kept responses), which name their schema, are re-sealed for the new one:
    this needs the master key that wrapped the tenant keys. The restore is recorded in the
    tenant's audit trail; events are not rewritten, so `verify_audit` and `replay --check`
    hold as they did for the original."""
    started = time.perf_counter()
    with backups.open_backup(path) as backup:
        manifest, public = backup.manifest, backup.public
        slug = as_slug or manifest["slug"]
        if as_slug and (problem := slug_problem(as_slug)):
            raise InvalidInput(problem, field="slug")
        schema, source = schema_name_for(slug), manifest["schema"]
        _check_migrations(manifest["migrations"])
        backups.check_keys(backup)
        existing = Tenant.objects.filter(slug=slug).first()
        if existing and not replace:
            raise Conflict(f"Tenant {slug} exists; restore under another slug or replace it.")
        domains = (
            [(d["domain"], d["is_primary"]) for d in public["domains"]]
            if slug == manifest["slug"]
            else [(tenant_domain(slug), True)]
        )
        taken = Domain.objects.filter(domain__in=[name for name, _ in domains])
        if existing:
            taken = taken.exclude(tenant=existing)
        if taken.exists():
            raise Conflict(f"Host name(s) in use by another tenant: {', '.join(map(str, taken))}.")
        if backups.schema_exists(schema) and not existing:
            raise Conflict(f"Schema {schema} exists without a tenant; drop it or pick a slug.")
        # Over an existing tenant, the backup is loaded beside it first and swapped in by one
        # transaction: a restore that fails leaves the tenant as it was.
        loading = f"{schema}_restoring" if existing else schema
        if backups.schema_exists(loading):
            raise Conflict(f"Schema {loading} exists (an interrupted restore?); drop it first.")
        progress(f"{slug}: restoring schema {source} as {loading}")
        backups.load_schema(backup.dump, source=source, target=loading, progress=progress)
        try:
            with transaction.atomic():
                if existing:
                    progress(f"{slug}: replacing the existing tenant (schema {schema})")
                    existing.delete(force_drop=True)
                    with connection.cursor() as cursor:
                        cursor.execute(f'ALTER SCHEMA "{loading}" RENAME TO "{schema}"')
                tenant = _register(manifest, public, slug, schema, domains)
        except BaseException:
            backups.drop_schema(loading)
            raise
        if schema == source:  # anchors name their schema: a copy under a new one starts afresh
            backups.adopt_anchors(schema, backup.anchors, progress)
    call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
    with schema_context(schema):
        branches = set(Branch.objects.values_list("id", flat=True))
        bump_generations(Touched(branches=branches), manifest["events"]["last_position"])
    seconds = time.perf_counter() - started
    progress(f"{slug}: restored {manifest['events']['count']} events in {seconds:.1f} s")
    return Restored(tenant, [name for name, _ in domains], manifest["events"]["count"], seconds)


def _check_migrations(migrations: list[list[str]]) -> None:
    """A backup made by newer code than this cannot be restored by it."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = [f"{app}.{name}" for app, name in migrations if (app, name) not in known]
    if unknown:
        raise InvalidInput(
            f"The backup has migrations this code does not know: {', '.join(unknown[:5])}."
        )


def _register(
    manifest: dict[str, Any],
    public: dict[str, Any],
    slug: str,
    schema: str,
    domains: list[tuple[str, bool]],
) -> Tenant:
    """The tenant's public rows (its subscription, history, statements and storage figures
    with it), and its keys made to open here, in one transaction."""
    fields = public["tenant"]
    kept = {field.attname for field in Tenant._meta.concrete_fields} - {"id", "slug", "schema_name"}
    with transaction.atomic():
        tenant = Tenant(**{k: v for k, v in fields.items() if k in kept}, slug=slug)
        tenant.schema_name = schema
        tenant.save(verbosity=0)  # the schema exists, so django-tenants leaves it be
        if fields.get("created"):  # auto_now_add stamped the restore; keep the sign-up's
            Tenant.objects.filter(pk=tenant.pk).update(created=fields["created"])
            tenant.refresh_from_db(fields=["created"])
        for name, primary in domains:
            Domain.objects.create(domain=name, tenant=tenant, is_primary=primary)
        location_register(
            actor=None, slug=slug, region=tenant.region, hosts=[name for name, _ in domains]
        )
        rows = public.get("rows", {})
        backups.insert_public_rows(rows, tenant.pk)
        statements_reattach(
            actor=None,
            tenant=tenant,
            numbers=[row["number"] for row in rows.get("plans_statement", [])],
        )
        with schema_context(schema):
            source = manifest["schema"]
            if source != schema:
                keys.rebind_from_schema(source)
                idempotency.rebind_from_schema(source)
                rebind_patients(source)
            record(
                "tenant.restored",
                detail={
                    "from_slug": manifest["slug"],
                    "taken_at": manifest["taken_at"],
                    "events": manifest["events"]["count"],
                },
            )
    return tenant
