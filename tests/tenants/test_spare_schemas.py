"""The pool of spare schemas that sign-ups claim (apps/tenants/spares.py)."""

import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import ProgrammingError, connection
from django_tenants.utils import schema_context, schema_exists

from apps.audit.trail import verify
from apps.clinic.models import Branch
from apps.core import keys
from apps.core.errors import Conflict
from apps.core.models import TenantKey
from apps.scheduling import commands as scheduling
from apps.scheduling.models import Appointment
from apps.tenants import spares
from apps.tenants.commands import spare_schemas_top_up, tenant_onboard
from apps.tenants.models import SpareRecipe, SpareSchema, Tenant, TenantWork
from apps.tenants.rules import schema_name_for
from apps.tenants.schemas import migrate_all
from tests.clock import ist
from tests.scheduling.factories import DoctorFactory, PatientFactory


def sign_up(slug: str) -> Tenant:
    return tenant_onboard(
        verified=True,
        clinic_name=f"{slug.title()} Clinic",
        slug=slug,
        kind="clinic",
        owner_name="Asha Rao",
        owner_email=f"owner@{slug}.example.com",
        owner_password="a-long-unusual-passphrase",
    ).tenant


def tenant_branch() -> Branch:
    return Branch.objects.get()


def one_value(query: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        row = cursor.fetchone()
    assert row is not None
    return row[0]


def rows(query: str, schema: str) -> list[tuple[Any, ...]]:
    """`query`'s rows for `schema` (its `%(schema)s`), with the schema's name taken out of
    every text, so two schemas compare by what they hold, not by what they are called."""
    with connection.cursor() as cursor:
        cursor.execute(query, {"schema": schema} if "%(schema)s" in query else None)
        return sorted(
            tuple(
                value.replace(f"{schema}.", "") if isinstance(value, str) else value
                for value in row
            )
            for row in cursor.fetchall()
        )


CATALOG = {
    # A column's place among its table's columns; not `ordinal_position` itself, which keeps
    # the holes left by dropped columns (a migration that removed one) in a migrated schema.
    "columns": """
        SELECT table_name, column_name,
               row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position),
               data_type, udt_name, is_nullable,
               column_default, character_maximum_length, numeric_precision, is_identity,
               identity_generation
        FROM information_schema.columns WHERE table_schema = %(schema)s""",
    "constraints": """
        SELECT rel.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class rel ON rel.oid = con.conrelid
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace
        WHERE ns.nspname = %(schema)s""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(schema)s""",
    "triggers": """
        SELECT event_object_table, trigger_name, event_manipulation, action_timing,
               action_orientation, action_statement
        FROM information_schema.triggers WHERE trigger_schema = %(schema)s""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, increment_by, last_value
        FROM pg_sequences WHERE schemaname = %(schema)s""",
    "relations": """
        SELECT rel.relname, rel.relkind FROM pg_class rel
        JOIN pg_namespace ns ON ns.oid = rel.relnamespace WHERE ns.nspname = %(schema)s""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace ns ON ns.oid = p.pronamespace WHERE ns.nspname = %(schema)s""",
}


# PostgreSQL prints a predicate it parsed back from its own printout with its casts placed
# differently (`ANY (ARRAY['a'::varchar::text])` for `ANY ((ARRAY['a'::varchar])::text[])`),
# as every dump and restore does; the predicates mean the same. Definitions compare with casts
# and parentheses taken out; names, columns, methods and operators stay.
CASTS = re.compile(r"::[a-z ]+(\[\])?|[()]")
PARSED_BACK = ("constraints", "indexes")


def cast_free(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:-1], CASTS.sub("", row[-1]))


def catalog(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    held = {name: rows(query, schema) for name, query in CATALOG.items()}
    for part in PARSED_BACK:
        held[part] = sorted(map(cast_free, held[part]))
    # Schema names below are the test's own spares, never input.
    tables = {
        "migrations": 'SELECT app, name FROM "{0}".django_migrations',
        "content types": 'SELECT app_label, model FROM "{0}".django_content_type',
        "permissions": 'SELECT t.app_label, p.codename, p.name FROM "{0}".auth_permission p '
        'JOIN "{0}".django_content_type t ON t.id = p.content_type_id',
    }
    for name, query in tables.items():
        held[name] = rows(query.format(schema), schema)
    return held


@pytest.fixture
def empty_pool(db: None) -> None:
    """The pool starts empty (spares that processes of other tests made are dropped inside
    the test's transaction, so they are back afterwards)."""
    for spare in SpareSchema.objects.filter(claimed_at__isnull=True):
        spares.drop(spare)


def test_a_spare_is_the_same_schema_as_one_made_by_running_every_migration(db: None) -> None:
    spare = spares.make(SpareSchema.Method.REPLAY)
    migrated = spares.make(SpareSchema.Method.MIGRATE)

    replayed, expected = catalog(spare.schema_name), catalog(migrated.schema_name)

    assert spare.schema_name.startswith("spare_") and len(spare.schema_name) == 18
    assert len(expected["columns"]) > 300 and len(expected["triggers"]) > 10
    assert len(expected["migrations"]) == spares.code_migrations()[1]
    for part in expected:
        assert replayed[part] == expected[part], part
    assert spare.migrations == migrated.migrations == spares.code_migrations()[0]


def test_a_spare_holds_no_key_and_upkeep_makes_it_none(db: None) -> None:
    spare = spares.make()

    with schema_context(spare.schema_name):
        keys.ensure_tenant_key()
        assert not TenantKey.objects.exists()


def test_a_sign_up_renames_a_ready_spare_and_the_clinic_works_end_to_end(
    empty_pool: None, other_tenant: Tenant
) -> None:
    spare = spares.make()

    tenant = sign_up("lotus")

    spare.refresh_from_db()
    assert (spare.claimed_as, tenant.schema_name) == ("lotus", "lotus")
    assert spare.claimed_at is not None
    assert schema_exists("lotus") and not schema_exists(spare.schema_name)
    with time_machine.travel(ist(4, 8), tick=False), schema_context("lotus"):
        doctor = DoctorFactory(branch=tenant_branch())
        booked = scheduling.appointment_book(
            actor=None, doctor=doctor, patient=PatientFactory(), start=ist(5, 9)
        )
        assert Appointment.objects.get().pk == booked.pk
        with pytest.raises(Conflict):
            scheduling.appointment_book(
                actor=None, doctor=doctor, patient=PatientFactory(), start=ist(5, 9)
            )
        checked = verify()
        assert checked.ok, checked.problem
        assert checked.entries > 3
        key = keys.tenant_key()
        last_event = one_value("SELECT max(position) FROM eventstore_event")
    with schema_context(other_tenant.schema_name):
        assert keys.tenant_key() != key
    # The head-noting trigger (public function, TG_TABLE_SCHEMA) found the renamed schema.
    assert TenantWork.objects.get(tenant=tenant, job="events").position == last_event


def test_with_no_spare_ready_a_sign_up_clones_the_template_and_says_so(
    empty_pool: None, caplog: pytest.LogCaptureFixture
) -> None:
    behind = spares.make()
    SpareSchema.objects.filter(pk=behind.pk).update(migrations="made-by-older-code")

    with caplog.at_level(logging.WARNING, logger="apps.tenants.commands"):
        tenant = sign_up("cedar")

    assert "no spare schema ready; cloning schema=cedar" in caplog.text
    assert schema_exists("cedar") and schema_exists(behind.schema_name)
    assert SpareSchema.objects.get(pk=behind.pk).claimed_at is None
    with schema_context(tenant.schema_name):
        assert TenantKey.objects.count() == 1
        assert tenant_branch().name == "Main branch"
    # clone_schema skips the foreign keys of partitioned tables: the sign-up adds them.
    foreign_keys = (
        "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' "
        "AND connamespace = to_regnamespace(%(schema)s) ORDER BY 2, 1"
    )
    template = settings.TENANT_BASE_SCHEMA
    expected = [
        (table.removeprefix(f"{template}."), name)
        for table, name in rows(foreign_keys, template)
        if "integration_message" in table or "integration_outboundmessage" in table
    ]
    made = [
        (table.removeprefix("cedar."), name)
        for table, name in rows(foreign_keys, "cedar")
        if "integration_message" in table or "integration_outboundmessage" in table
    ]
    assert any("integration_outboundmessage" in table for table, _ in expected)
    assert made == expected


def test_a_sign_up_that_fails_after_the_claim_leaves_the_spare_in_the_pool(
    empty_pool: None,
) -> None:
    spare = spares.make()
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "taken"')  # a leftover under the new tenant's name

    with pytest.raises(ProgrammingError):
        sign_up("taken")

    assert not Tenant.objects.filter(slug="taken").exists()
    spare.refresh_from_db()
    assert spare.claimed_at is None and spare.claimed_as == ""
    assert schema_exists(spare.schema_name)
    assert list(spares.ready()) == [spare]


def test_a_top_up_makes_spares_until_the_target_and_then_none(empty_pool: None) -> None:
    first = spare_schemas_top_up(actor=None, target=2)
    again = spare_schemas_top_up(actor=None, target=2)

    assert (len(first.made), first.ready) == (2, 2)
    assert (again.made, again.ready) == ([], 2)
    assert all(schema_exists(spare.schema_name) for spare in first.made)


def test_the_pool_refills_after_each_claim(
    empty_pool: None,
    settings: Any,
    celery_in_process: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MYMEDIC_SPARE_SCHEMAS = 2
    spare_schemas_top_up(actor=None)
    before = set(spares.ready())

    with django_capture_on_commit_callbacks(execute=True):
        sign_up("refill")

    after = set(spares.ready())
    assert len(before) == len(after) == 2
    assert len(before & after) == 1
    assert SpareSchema.objects.get(claimed_as="refill") in before - after


def test_the_command_fills_the_pool_and_lists_it(empty_pool: None, capsys: Any) -> None:
    call_command("spare_schemas", "--fill", "2")

    listing = capsys.readouterr().out
    made = list(spares.ready())
    assert len(made) == 2
    assert listing.startswith("ready 2 (target ")
    assert all(f"  {spare.schema_name}  ready" in listing for spare in made)


@pytest.fixture
def no_recipe(empty_pool: None) -> Iterator[None]:
    """No recipe stored or kept in this process (the process's copy is back afterwards)."""
    kept = dict(spares._recipes)
    spares._recipes.clear()
    SpareRecipe.objects.all().delete()
    yield
    spares._recipes.update(kept)


def test_upkeep_migrates_a_spare_recorded_behind_the_code_and_stores_the_recipe(
    empty_pool: None,
) -> None:
    spare = spares.make()
    SpareSchema.objects.filter(pk=spare.pk).update(migrations="made-by-older-code")
    assert not spares.ready().exists()
    spares._recipes.clear()
    SpareRecipe.objects.all().delete()

    migrate_all()

    assert list(spares.ready()) == [spare]
    template = spares.schema_migrations(settings.TENANT_BASE_SCHEMA)[0]
    assert SpareRecipe.objects.get().migrations == template


def test_before_upkeep_stored_a_recipe_a_top_up_migrates_its_spares(no_recipe: None) -> None:
    migrated = spare_schemas_top_up(actor=None, target=1).made
    spares.recipe()
    replayed = spare_schemas_top_up(actor=None, target=2).made

    assert [spare.method for spare in migrated + replayed] == ["migrate", "replay"]
    assert SpareRecipe.objects.count() == 1


@pytest.fixture
def committed_spares(django_db_setup: Any, django_db_blocker: Any) -> Iterator[list[str]]:
    """Spares and sign-ups really committed, for tests with several connections; removes
    the tenants, spares and rows they made."""
    made: list[str] = []
    with django_db_blocker.unblock():
        existing = set(SpareSchema.objects.values_list("pk", flat=True))
        yield made
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(slug__in=made):
            tenant.delete(force_drop=True)
        for spare in SpareSchema.objects.exclude(pk__in=existing):
            if spare.claimed_at is None:
                spares.drop(spare)
            else:
                spare.delete()


@pytest.mark.timeout(180)
def test_concurrent_sign_ups_each_get_a_spare_of_their_own(committed_spares: list[str]) -> None:
    signups = 6
    spare_schemas_top_up(actor=None, target=signups)
    pool = {spare.schema_name for spare in spares.ready()}  # others' spares may be there too
    slugs = [f"race-{n}" for n in range(signups)]
    committed_spares.extend(slugs)
    start_together = threading.Barrier(signups)

    def sign_up_in_own_connection(slug: str) -> str:
        try:
            start_together.wait(30)
            return sign_up(slug).schema_name
        finally:
            connection.close()

    with ThreadPoolExecutor(signups) as threads:
        schemas = list(threads.map(sign_up_in_own_connection, slugs))

    assert schemas == [schema_name_for(slug) for slug in slugs]
    claims = SpareSchema.objects.filter(claimed_as__in=schemas)
    assert sorted(claims.values_list("claimed_as", flat=True)) == sorted(schemas)
    taken = set(claims.values_list("schema_name", flat=True))
    assert len(taken) == signups and taken <= pool
    assert not any(schema_exists(name) for name in taken)
    for schema in schemas:
        with schema_context(schema):
            assert TenantKey.objects.count() == 1
            assert tenant_branch().name == "Main branch"


def test_operators_see_the_pool_in_the_admin_and_owners_do_not(
    api: Any, owner: Any, monday_morning: Any
) -> None:
    ready, claimed = spares.make(), spares.make()
    SpareSchema.objects.filter(pk=claimed.pk).update(claimed_at=ist(4, 8), claimed_as="someclinic")
    operator = type(owner).objects.create_superuser("ops@platform.example.com", "x-operator-26")

    api.force_login(owner)
    assert api.get("/admin/tenants/spareschema/").status_code == 403
    api.force_login(operator)
    listed = api.get("/admin/tenants/spareschema/").content.decode()
    only_ready = api.get("/admin/tenants/spareschema/?state=ready").content.decode()

    assert ready.schema_name in listed and claimed.schema_name in listed
    assert "someclinic" in listed
    assert ready.schema_name in only_ready and claimed.schema_name not in only_ready
