"""The resumable migration runner (`manage.py migrate_tenants`) on real schemas: it reaches
the template, spare schemas and every tenant, survives a SIGKILL without redoing finished
schemas, reports a failing schema without blocking the others, visits nothing when every
schema is current, and never lets two runners migrate one schema at once."""

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.clone import CloneSchema

from apps.bench import migration_probe
from apps.clinic.models import User
from apps.tenants import migrator
from apps.tenants.models import SchemaMigration, Tenant
from apps.tenants.schemas import migrate_all
from tests.conftest import HostClient, own_connection, subprocess_env


@dataclass
class Probe:
    package: str
    directory: Path
    tenants: list[str]
    spares: list[str]

    @property
    def schemas(self) -> list[str]:
        return self.spares + self.tenants

    def env(self, **extra: str) -> dict[str, str]:
        return migration_probe.driver_env(self.directory, self.package, subprocess_env(**extra))


def probed(schema: str) -> int:
    """How many times the probe ran in `schema` (0 when its migration is not applied)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f'"{schema}".migration_probe'])
        if cursor.fetchone()[0] is None:
            return 0
        cursor.execute(f'SELECT count(*) FROM "{schema}".migration_probe')  # noqa: S608
        return int(cursor.fetchone()[0])


def statuses(schemas: list[str]) -> dict[str, str]:
    rows = SchemaMigration.objects.filter(schema__in=schemas)
    return dict(rows.values_list("schema", "status"))


@pytest.fixture
def probe(
    django_db_setup: Any,
    django_db_blocker: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> Iterator[Probe]:
    """Two spare schemas and three tenants (clones of the template, like the real ones), and
    the probe migration on disk: every schema of the database is one migration behind."""
    package = migration_probe.write_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("PROBE_FAIL", raising=False)
    monkeypatch.delenv("PROBE_SLEEP", raising=False)
    tag = uuid.uuid4().hex[:6]
    made: list[Tenant] = []
    spares = [f"spare_{tag}{n:06x}" for n in range(2)]
    with django_db_blocker.unblock():
        for spare in spares:
            CloneSchema().clone_schema(settings.TENANT_BASE_SCHEMA, spare, set_connection=False)
        for n in range(3):
            tenant = Tenant(
                schema_name=f"mig_{tag}_{n}", slug=f"mig-{tag}-{n}", name="Runner", kind="clinic"
            )
            tenant.save(verbosity=0)
            made.append(tenant)
        settings.MIGRATION_MODULES = {migration_probe.APP: package}
        try:
            yield Probe(package, tmp_path, [t.schema_name for t in made], spares)
        finally:
            connection.set_schema_to_public()
            for tenant in made:
                tenant.delete(force_drop=True)
            with connection.cursor() as cursor:
                for spare in spares:
                    cursor.execute(f'DROP SCHEMA IF EXISTS "{spare}" CASCADE')
            migration_probe.forget()
            SchemaMigration.objects.all().delete()


def test_spare_schemas_the_template_and_every_tenant_are_migrated(probe: Probe) -> None:
    summary = migrator.run()

    outcomes = {outcome.schema: outcome for outcome in summary.outcomes}
    everyone = [settings.TENANT_BASE_SCHEMA, *probe.schemas, "acme", "globex"]
    assert [outcomes[schema].status for schema in everyone] == ["migrated"] * len(everyone)
    assert [outcomes[schema].applied for schema in everyone] == [1] * len(everyone)
    assert [probed(schema) for schema in everyone] == [1] * len(everyone)
    assert outcomes["public"].status == "migrated"  # recorded there, not run: a tenant app
    assert probed("public") == 0
    assert set(statuses(everyone).values()) == {"done"}
    assert summary.failed == {}


def test_a_rerun_on_a_current_database_visits_no_schema(probe: Probe) -> None:
    migrator.run()

    with CaptureQueriesContext(connection) as queries:
        again = migrator.run()

    assert {outcome.status for outcome in again.outcomes} == {"skipped"}
    assert again.applied == 0
    assert {o.schema for o in again.outcomes} >= {settings.TENANT_BASE_SCHEMA, *probe.schemas}
    # A few catalog queries, one count over every schema, the progress rows: a fixed number,
    # and each schema is named in one query only (the count).
    assert len(queries) <= 12, [q["sql"][:80] for q in queries]
    naming = [sum(f'"{schema}"' in q["sql"] for q in queries) for schema in probe.schemas]
    assert naming == [1] * len(probe.schemas)
    assert [probed(schema) for schema in probe.schemas] == [1] * len(probe.schemas)


def test_a_failing_schema_is_reported_and_does_not_block_the_others(
    probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, *others = probe.tenants
    monkeypatch.setenv("PROBE_FAIL", broken)

    with pytest.raises(CommandError, match=f"1 schema\\(s\\) failed: {broken} "):
        call_command("migrate_tenants", verbosity=0)

    assert [probed(schema) for schema in [*probe.spares, *others]] == [1] * 4
    assert probed(broken) == 0
    row = SchemaMigration.objects.get(schema=broken)
    assert (row.status, row.error) == ("failed", f"RuntimeError: the probe refuses {broken}")
    assert set(statuses([*probe.spares, *others]).values()) == {"done"}

    monkeypatch.delenv("PROBE_FAIL")
    with pytest.raises(CommandError, match=broken):  # not retried unless asked
        call_command("migrate_tenants", verbosity=0)
    assert probed(broken) == 0

    call_command("migrate_tenants", "--retry-failed", verbosity=0)

    assert probed(broken) == 1
    assert SchemaMigration.objects.get(schema=broken).status == "done"


def test_a_runner_killed_mid_run_is_resumed_without_redoing_finished_schemas(
    probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = probe.schemas
    runner = subprocess.Popen(  # noqa: S603
        migration_probe.driver_argv("migrate_tenants", "--schemas", ",".join(schemas), "-v", "0"),
        env=probe.env(PROBE_SLEEP="1.5"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while list(statuses(schemas).values()).count("done") < 2:
            assert runner.poll() is None, "the runner ended before it could be killed"
            assert time.monotonic() < deadline, statuses(schemas)
            time.sleep(0.1)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(timeout=10)
    finished = [schema for schema, status in statuses(schemas).items() if status == "done"]
    left = [schema for schema in schemas if schema not in finished]
    assert len(finished) >= 2 and left, statuses(schemas)
    assert [probed(schema) for schema in left] == [0] * len(left)

    summary = migrator.run(schemas=schemas)

    outcomes = {outcome.schema: outcome.status for outcome in summary.outcomes}
    assert [outcomes[schema] for schema in finished] == ["skipped"] * len(finished)
    assert [outcomes[schema] for schema in left] == ["migrated"] * len(left)
    assert [probed(schema) for schema in schemas] == [1] * len(schemas)
    assert set(statuses(schemas).values()) == {"done"}


def test_a_schema_another_runner_holds_is_left_to_it_and_taken_up_by_the_next_run(
    probe: Probe,
) -> None:
    held, free = probe.tenants[0], probe.tenants[1]
    other = own_connection(autocommit=True)
    try:
        other.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s))", [migrator.MIGRATION_LOCK_CLASS, held]
        )

        first = migrator.run(schemas=[held, free], lock_wait=0.5)

        assert first.failed == {held: "Another runner held this schema's lock for 0.5 s."}
        assert (probed(held), probed(free)) == (0, 1)
        assert statuses([held])[held] == "pending"
    finally:
        other.close()

    second = migrator.run(schemas=[held, free])

    assert {o.schema: o.status for o in second.outcomes if o.schema != "public"} == {
        held: "migrated",
        free: "skipped",
    }
    assert probed(held) == 1


def test_several_processes_migrate_every_schema_once(probe: Probe) -> None:
    finished = subprocess.run(  # noqa: S603
        migration_probe.driver_argv("migrate_tenants", "--jobs", "2", "-v", "0"),
        env=probe.env(),
        timeout=180,
        check=False,
        capture_output=True,
        text=True,
    )

    assert finished.returncode == 0, finished.stderr[-2000:]
    everyone = [settings.TENANT_BASE_SCHEMA, *probe.schemas, "acme", "globex"]
    assert [probed(schema) for schema in everyone] == [1] * len(everyone)
    assert set(statuses(everyone).values()) == {"done"}


def test_operators_read_the_progress_and_clinic_staff_never_see_it(
    api: HostClient, owner: User
) -> None:
    SchemaMigration.objects.create(
        schema="spare_0123456789ab", target="f" * 64, status="failed", error="RuntimeError: x"
    )
    operator = User.objects.create_superuser("ops@platform.example.com", "x-operator-2026")

    api.force_login(owner)
    assert api.get("/admin/tenants/schemamigration/").status_code == 403
    api.force_login(operator)
    listing = api.get("/admin/tenants/schemamigration/?status__exact=failed")
    row = SchemaMigration.objects.get(schema="spare_0123456789ab")
    change = api.get(f"/admin/tenants/schemamigration/{row.pk}/change/")

    assert listing.status_code == 200 and "spare_0123456789ab" in listing.content.decode()
    assert "RuntimeError: x" in change.content.decode()
    assert 'name="_save"' not in change.content.decode()  # read-only


def test_local_setup_migrates_with_the_runner_and_names_what_failed(
    probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = probe.spares[0]
    monkeypatch.setenv("PROBE_FAIL", broken)

    with pytest.raises(migrator.SchemasFailed) as failure:
        migrate_all()

    assert list(failure.value.failed) == [broken]
    assert [probed(schema) for schema in probe.tenants] == [1] * len(probe.tenants)
    assert SchemaMigration.objects.get(schema=broken).status == "failed"


def test_naming_a_schema_that_does_not_exist_is_refused_before_anything_runs(db: None) -> None:
    with pytest.raises(CommandError, match="No such schema\\(s\\): acme_typo."):
        call_command("migrate_tenants", "--schemas", "acme,acme_typo", verbosity=0)

    assert not SchemaMigration.objects.filter(schema__in=["acme", "acme_typo"]).exists()
