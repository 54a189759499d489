"""Residency across cells: two cells (one per region, each its own database, Redis, web server,
worker and files) behind one edge. A tenant signed up for a region through the public entry
point lives in that region's cell only: its rows, warehouse and files never reach the other
cell, and the directory names its region and cell."""

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from tests.cells.deployment import Deployment, deployment
from tests.faults.stack import wait_until

pytestmark = [pytest.mark.slow]

PASSWORD = "a-long-unusual-passphrase"
CLINICS = {
    "in": {
        "slug": "lotus-pune",
        "clinic_name": "Lotus Clinic Pune",
        "owner_name": "Meera Iyer",
        "timezone": "Asia/Kolkata",
        "currency": "INR",
        "doctor": "Dr. Kavya Raman",
        "patient": "Ishaan Kulkarni",
        "phone": "+919812345678",
    },
    "gcc": {
        "slug": "dune-dubai",
        "clinic_name": "Dune Clinic Dubai",
        "owner_name": "Omar Haddad",
        "timezone": "Asia/Dubai",
        "currency": "AED",
        "doctor": "Dr. Layla Mansour",
        "patient": "Yusuf Al Amiri",
        "phone": "+971501234567",
    },
}
# What each tenant's own cell holds in the clear (a positive control for the search); the
# patient's name and phone are sealed at rest, so they are searched for but cannot be found
# even at home.
PLAIN = ("slug", "clinic_name", "owner_name", "doctor", "email")


def sign_up(edge: Deployment, region: str) -> dict[str, Any]:
    clinic = CLINICS[region]
    clinic["email"] = f"owner@{clinic['slug']}.example.com"
    answer = edge.call(
        "POST",
        "localhost",
        "/api/v1/onboarding/",
        {
            "clinic_name": clinic["clinic_name"],
            "slug": clinic["slug"],
            "kind": "clinic",
            "owner_name": clinic["owner_name"],
            "owner_email": clinic["email"],
            "owner_password": PASSWORD,
            "timezone": clinic["timezone"],
            "currency": clinic["currency"],
            "region": region,
        },
    )
    assert answer.status == 201, answer.body
    assert answer.body == {
        "slug": clinic["slug"],
        "domain": f"{clinic['slug']}.localhost",
        "region": region,
    }
    return clinic


def book(edge: Deployment, clinic: dict[str, Any]) -> dict[str, Any]:
    """Signs in on the tenant's host through the edge and books a visit; the ids it made."""
    host = f"{clinic['slug']}.localhost"
    signed_in = edge.call(
        "POST", host, "/api/v1/auth/token/", {"username": clinic["email"], "password": PASSWORD}
    )
    assert signed_in.status == 200, signed_in.body
    token = signed_in.body["token"]
    branch = edge.call("GET", host, "/api/v1/branches/", token=token).body["results"][0]["id"]
    doctor = edge.call(
        "POST",
        host,
        "/api/v1/doctors/",
        {
            "name": clinic["doctor"],
            "branch": branch,
            "specialty": "General medicine",
            "slot_minutes": 15,
            "consultation_fee": "500.00",
            "weekly_hours": [{"weekday": d, "start": "09:00", "end": "17:00"} for d in range(7)],
        },
        token=token,
    )
    assert doctor.status == 201, doctor.body
    patient = edge.call(
        "POST", host, "/api/v1/patients/", {"name": clinic["patient"], "phone": clinic["phone"]},
        token=token,
    )  # fmt: skip
    assert patient.status == 201, patient.body
    day = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    slots = edge.call(
        "GET", host, f"/api/v1/doctors/{doctor.body['id']}/slots/?date={day}", token=token
    )
    assert slots.status == 200 and slots.body, slots.body
    start = slots.body[0]["start"]
    visit = edge.call(
        "POST",
        host,
        "/api/v1/appointments/",
        {"doctor": doctor.body["id"], "patient": patient.body["id"], "start": start},
        token=token,
    )
    assert visit.status == 201, visit.body
    return {"appointment": visit.body["id"], "patient": patient.body["id"]}


def rows_mentioning(edge: Deployment, database: str, needle: str) -> list[str]:
    """Every table of every schema of `database` with a row whose text holds `needle`."""
    found = []
    with edge.connect(database) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        schemas = [name for (name,) in conn.execute("SELECT nspname FROM pg_namespace")]
        for schema, table in tables:
            query = sql.SQL("SELECT 1 FROM {}.{} AS t WHERE t::text ILIKE %s LIMIT 1").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            hit = conn.execute(query, [f"%{needle}%"]).fetchone()
            if hit:
                found.append(f"{schema}.{table}")
        found += [f"schema {name}" for name in schemas if needle.replace("-", "_") in name]
    return found


def files_mentioning(folder: Path, needle: str) -> list[str]:
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]


def warehouse_databases(edge: Deployment, cell: str) -> list[str]:
    """The cell's warehouse databases after exporting every tenant of the cell to it."""
    script = (
        "import json\n"
        "from django_tenants.utils import schema_context\n"
        "from apps.reconciliation.export import export\n"
        "from apps.reconciliation.warehouse import backend\n"
        "from apps.tenants.models import Tenant\n"
        "for t in Tenant.objects.exclude(schema_name='public'):\n"
        "    with schema_context(t.schema_name):\n"
        "        export()\n"
        "rows = backend().rows('SHOW DATABASES')\n"
        "print(json.dumps(sorted(r[0] for r in rows if r[0].startswith('t_'))))\n"
    )
    return list(json.loads(edge.cells[cell].manage("shell", "-c", script).splitlines()[-1]))


def test_each_region_s_tenant_lives_only_in_its_own_cell() -> None:
    with deployment({"in": "in", "gcc": "gcc"}) as edge:
        home = {region: sign_up(edge, region) for region in ("in", "gcc")}
        # The edge learns the new hosts from the directory (NOTIFY, debounce, reload).
        # Until then the directory's cell answers "retry" (503), never "no clinic" (404).
        started = time.monotonic()
        seen: list[int] = []

        def routed() -> bool:
            seen.append(edge.call("GET", "dune-dubai.localhost", "/api/v1/auth/me/").status)
            return seen[-1] == 401

        wait_until(
            routed,
            20,
            "the edge to route the gcc tenant's host",
        )
        reload_seconds = time.monotonic() - started
        assert set(seen) <= {503, 401}, seen
        made = {region: book(edge, clinic) for region, clinic in home.items()}

        for region, clinic in home.items():
            where = edge.call("GET", "localhost", f"/api/v1/directory/{clinic['slug']}/")
            assert where.status == 200
            assert (where.body["region"], where.body["cell"], where.body["domain"]) == (
                region,
                region,
                f"{clinic['slug']}.localhost",
            )
        # The confirmation email leaves from the tenant's own cell (its worker, its files).
        for region, clinic in home.items():
            wait_until(
                lambda c=clinic, r=region: bool(
                    files_mentioning(edge.cells[r].files / "mail", c["email"])
                ),
                30,
                f"the {region} cell to write its owner's confirmation email",
            )
        # Its link, opened on the public site, confirms the tenant in its own cell.
        for region, clinic in home.items():
            mail_text = b"".join(
                path.read_bytes() for path in (edge.cells[region].files / "mail").iterdir()
            ).decode()
            link = re.search(r"http://localhost(/verify-email/\S+/)", mail_text)
            assert link, mail_text
            page = edge.call("GET", "localhost", link.group(1))
            assert page.status == 200 and clinic["clinic_name"] in page.body, page.body
            with edge.connect(edge.cells[region].database) as conn:
                confirmed = conn.execute(
                    "SELECT verified_at IS NOT NULL FROM tenants_tenant WHERE slug = %s",
                    [clinic["slug"]],
                ).fetchone()
            assert confirmed == (True,), region
        warehouses = {region: warehouse_databases(edge, region) for region in home}

        for region, clinic in home.items():
            other = "gcc" if region == "in" else "in"
            own_db, other_db = edge.cells[region].database, edge.cells[other].database
            for key in (*PLAIN, "patient", "phone"):
                assert rows_mentioning(edge, other_db, clinic[key]) == [], (region, key)
                assert files_mentioning(edge.cells[other].files, clinic[key]) == [], (region, key)
            for key in PLAIN:  # the search finds what is there
                assert rows_mentioning(edge, own_db, clinic[key]), (region, key)
            schema = clinic["slug"].replace("-", "_")
            assert [db for db in warehouses[region] if schema in db] == [f"t_{schema}"]
            assert not [db for db in warehouses[other] if schema in db], (region, warehouses)
            assert made[region]["appointment"]
        # The directory's own database holds locations only: no tenant's rows.
        for clinic in home.values():
            assert rows_mentioning(edge, edge.directory_database, clinic["owner_name"]) == []
            assert rows_mentioning(edge, edge.directory_database, clinic["slug"]) == [
                "public.directory_tenantlocation"
            ]
        print(f"edge routed a new host {reload_seconds:.2f} s after sign-up")
