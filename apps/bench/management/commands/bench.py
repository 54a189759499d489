"""`make bench`: measures MyMedic on this machine against the real stack and reports it.

Each part creates its own tenant, measures, and drops the tenant again. Results print as a
table and are written as JSON (default artifacts/bench.json).
"""

import argparse
import json
import os
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test import Client as TestClient
from django.test import override_settings
from django_tenants.utils import schema_context
from rest_framework.settings import api_settings
from tqdm import tqdm

from apps.bench import migration_probe, tenants
from apps.bench.board import bench_board, board_rows
from apps.bench.costs import bench_costs, segments
from apps.bench.cpu import cpu_per_request, profile_requests
from apps.bench.fhir import bench_fhir, fhir_rows
from apps.bench.hl7 import MODES as HL7_MODES
from apps.bench.hl7 import bench_hl7, bench_hl7_in_process
from apps.bench.hospital import synthesize_month
from apps.bench.load import (
    SERVER_ENV,
    Client,
    Target,
    celery_worker,
    closed_loop,
    paced,
    post_all,
    proxied_web,
    web_server,
    worker_command,
    wrk,
)
from apps.bench.measure import summary_ms, timed, wait_for
from apps.bench.migration_probe import copy_template, drop_copies
from apps.bench.partitions import bench_partitions
from apps.bench.procs import cpu_split, idle, postgres_pid, redis_pid
from apps.bench.relay import bench_relay
from apps.bench.waits import commits, shares, wait_profile
from apps.billing import commands as billing_commands
from apps.billing import gstr1
from apps.clinic import commands as commands_clinic
from apps.clinic import tokens
from apps.clinic.models import Branch, Role, User
from apps.core.db import connection
from apps.core.errors import TenantMoving
from apps.eventbus.relay import notifying_relay
from apps.eventstore import replay
from apps.eventstore.models import Event, ProjectionState
from apps.eventstore.projections import catch_up
from apps.queue import commands as queue
from apps.reconciliation import reports
from apps.reconciliation.analytics import chain_analytics
from apps.reconciliation.export import export
from apps.reconciliation.warehouse import EmbeddedBackend, TenantWarehouse, backend
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.scheduling.projections import appointments
from apps.tenants import backups, migrator
from apps.tenants.commands import spare_schemas_top_up, tenant_domain, tenant_onboard
from apps.tenants.models import SchemaMigration, SpareSchema, Tenant
from apps.tenants.moves import tenant_move, tenant_moved
from apps.tenants.schemas import migrate_all

PASSWORD = "bench-password-2026"  # noqa: S105  (throw-away tenants)
IST = ZoneInfo("Asia/Kolkata")
SLOT_MINUTES = 5
ROUND_THE_CLOCK = [{"weekday": d, "start": "00:00", "end": "23:55"} for d in range(7)]


def make_tenant(kind: str = "clinic") -> Tenant:
    slug = f"bench-{kind}-{uuid.uuid4().hex[:8]}"
    return tenant_onboard(
        verified=True,
        clinic_name=f"Bench {kind}",
        slug=slug,
        kind=kind,
        owner_name="Bench",
        owner_email=f"owner@{slug}.example.com",
        owner_password=PASSWORD,
    ).tenant


def drop_tenant(tenant: Tenant) -> None:
    connection.set_schema_to_public()
    tenant.delete(force_drop=True)


class SlotFeed:
    """Hands out free slots of a few round-the-clock doctors, day after day from tomorrow."""

    def __init__(self, doctors: list[Doctor]) -> None:
        self.doctors = doctors
        self.day = datetime.now(IST).date() + timedelta(days=1)
        self.per_day = (24 * 60 - 5) // SLOT_MINUTES
        self.index = 0

    def next(self) -> tuple[Doctor, datetime]:
        day_offset, rest = divmod(self.index, self.per_day * len(self.doctors))
        doctor_index, slot = divmod(rest, self.per_day)
        self.index += 1
        day: date = self.day + timedelta(days=day_offset)
        start = datetime.combine(day, clock(), tzinfo=IST) + timedelta(minutes=SLOT_MINUTES * slot)
        return self.doctors[doctor_index], start


def seed_doctors(count: int) -> tuple[list[Doctor], Patient]:
    branch = Branch.objects.get()
    doctors = [
        commands.doctor_add(
            actor=None,
            branch=branch,
            name=f"Dr. Bench {i}",
            specialty="GP",
            slot_minutes=SLOT_MINUTES,
            consultation_fee=Decimal("500"),
            weekly_hours=ROUND_THE_CLOCK,
        )
        for i in range(count)
    ]
    patient = commands.patient_register(actor=None, name="Bench Patient", phone="+919999900001")
    return doctors, patient


class Command(BaseCommand):
    help = (
        "Measures signup time, projection lag under load and replay speed; prints and saves JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--signups", type=int, default=5)
        parser.add_argument("--lag-bookings", type=int, default=400)
        parser.add_argument("--lag-rate", type=float, default=50.0, help="bookings per second")
        parser.add_argument("--replay-events", type=int, default=20000)
        parser.add_argument("--json", default="artifacts/bench.json")
        parser.add_argument("--month-doctors", type=int, default=2000)
        parser.add_argument("--month-per-doctor-day", type=int, default=40)
        parser.add_argument("--http-seconds", type=float, default=10.0)
        parser.add_argument("--serving-seconds", type=float, default=8.0)
        parser.add_argument(
            "--cpu-requests", type=int, default=1000, help="requests per path of the cpu part"
        )
        parser.add_argument(
            "--cpu-profile",
            action="store_true",
            help="the cpu part also profiles each path (cProfile): its top functions",
        )
        parser.add_argument("--write-bookings", type=int, default=960)
        parser.add_argument("--streams", type=int, default=1000)
        parser.add_argument(
            "--settlement-rows",
            type=int,
            default=2000,
            help="payments recorded by webhook and settled by one gateway report (the "
            "settlement part, not in the default parts)",
        )
        parser.add_argument(
            "--displays", type=int, default=200, help="waiting-room display streams (displays)"
        )
        parser.add_argument(
            "--migration-schemas",
            type=int,
            default=300,
            help="tenant schemas for the migrations part (not in the default parts: it makes "
            "and drops that many schemas)",
        )
        parser.add_argument(
            "--migration-sample",
            type=int,
            default=0,
            help="with --migration-schemas 0: apply the probe migration to this many schemas "
            "spread over the database (0: all of them)",
        )
        parser.add_argument(
            "--move-bookings",
            default="0,20000",
            help="comma-separated bookings of each tenant moved to another database",
        )
        parser.add_argument("--fhir-patients", type=int, default=5000)
        parser.add_argument("--board-doctors", type=int, default=2000)
        parser.add_argument("--board-visits", type=int, default=10000)
        parser.add_argument("--board-runs", type=int, default=10, help="of each board measure")
        parser.add_argument("--relay-events", type=int, default=50000, help="relay backlog")
        parser.add_argument(
            "--partition-events", type=int, default=1_000_000, help="events in the archived month"
        )
        parser.add_argument(
            "--partition-migration-events",
            type=int,
            default=1_000_000,
            help="events in the log partitioned online",
        )
        parser.add_argument("--hl7-messages", type=int, default=4000, help="inbound ADT in all")
        parser.add_argument("--hl7-connections", type=int, default=8)
        parser.add_argument("--hl7-channels", type=int, default=2)
        parser.add_argument(
            "--hl7-processes", type=int, default=1, help="listener processes on the port"
        )
        parser.add_argument(
            "--hl7-modes",
            default="original,enhanced",
            help="acknowledgment modes run, of original and enhanced (MSH-15 AL)",
        )
        parser.add_argument("--tenants", type=int, default=2000, help="tenants to grow to")
        parser.add_argument("--tenants-step", type=int, default=100, help="sign-ups per point")
        parser.add_argument("--idle-seconds", type=float, default=60.0)
        parser.add_argument(
            "--idle-tenants",
            type=int,
            default=10000,
            help="idle part: pad the directory to this many tenants (copies of the newest "
            "tenant's public rows, no schemas), then measure the background's idle CPU; run it "
            "in a kept --only tenants database (DATABASE_URL)",
        )
        parser.add_argument(
            "--keep-bench-database", action="store_true", help="keep the tenants' database"
        )
        parser.add_argument("--in-bench-database", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--tenants-json", default="", help=argparse.SUPPRESS)
        parser.add_argument(
            "--tenants-resume",
            action="store_true",
            help="with --in-bench-database and DATABASE_URL on a kept bench database: carry on "
            "a stopped run from its --tenants-json",
        )
        parser.add_argument(
            "--gst-visits", type=int, default=500, help="visits billed for the gst part"
        )
        parser.add_argument(
            "--cost-visits", type=int, default=500, help="visits of the costs part (COST-MODEL)"
        )
        parser.add_argument(
            "--only",
            default="write,http,serving,writes,streams,signup,lag,replay,tenants,month,move,relay",
            help="comma-separated parts to run",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Measure as deployed: DEBUG keeps every query in memory and wraps every cursor.
        settings.DEBUG = False
        os.environ["MYMEDIC_DEBUG"] = "0"  # for the servers and workers started here
        results: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "memory_gib": memory_gib()},
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        parts = set(options["only"].split(","))
        hl7_modes = _hl7_modes(options["hl7_modes"])  # refused before any part runs
        if "write" in parts:
            results["write"] = self.bench_write()
        if "http" in parts:
            results["http"] = self.bench_http(options["http_seconds"])
        if "serving" in parts:
            results["serving"] = self.bench_serving(options["serving_seconds"])
        if "cpu" in parts:
            results["cpu"] = self.bench_cpu(options["cpu_requests"], options["cpu_profile"])
        if "writes" in parts:
            results["writes"] = self.bench_writes(options["write_bookings"])
        if "streams" in parts:
            results["streams"] = self.bench_streams(options["streams"])
        if "displays" in parts:
            results["displays"] = self.bench_displays(options["displays"])
        if "signup" in parts:
            results["signup"] = self.bench_signup(options["signups"])
        if "lag" in parts:
            results["projection_lag"] = self.bench_lag(options["lag_bookings"], options["lag_rate"])
        if "replay" in parts:
            results["replay"] = self.bench_replay(options["replay_events"])
        if "tenants" in parts:
            results["tenants"] = self.bench_tenants(options)
        if "idle" in parts:
            results["idle"] = self.bench_idle(options["idle_tenants"], options["idle_seconds"])
        if "migrations" in parts:
            results["migrations"] = self.bench_migrations(
                options["migration_schemas"], options["migration_sample"]
            )
        if "month" in parts:
            results["hospital_month"] = self.bench_month(
                options["month_doctors"], options["month_per_doctor_day"]
            )
        if "settlement" in parts:
            results["settlement"] = self.bench_settlement(options["settlement_rows"])
        if "gst" in parts:
            results["gst"] = self.bench_gst(options["gst_visits"])
        if "costs" in parts:
            results["costs"] = bench_costs(
                make_tenant, drop_tenant, options["cost_visits"], self.stderr.write
            )
            results["costs"]["segments"] = segments(results["costs"])
        if "hl7-in-process" in parts:
            tenant = make_tenant()
            try:
                results["hl7_in_process"] = bench_hl7_in_process(
                    tenant, messages=options["hl7_messages"]
                )
            finally:
                drop_tenant(tenant)
        if "hl7" in parts:
            results["hl7"] = self.bench_hl7(
                options["hl7_messages"],
                options["hl7_connections"],
                options["hl7_channels"],
                options["hl7_processes"],
                hl7_modes,
            )
        if "move" in parts:
            results["move"] = [
                self.bench_move(int(size)) for size in options["move_bookings"].split(",")
            ]
        if "fhir" in parts:
            results["fhir"] = bench_fhir(
                make_tenant, drop_tenant, options["fhir_patients"], self.stderr
            )
        if "board" in parts:
            results["board"] = bench_board(
                make_tenant,
                drop_tenant,
                doctors=options["board_doctors"],
                visits=options["board_visits"],
                runs=options["board_runs"],
                progress=self.stderr,
            )
        if "relay" in parts:
            results["relay"] = self.bench_relay(
                options["relay_events"], options["lag_bookings"], options["lag_rate"]
            )
        if "partitions" in parts:
            results["partitions"] = bench_partitions(
                make_tenant,
                drop_tenant,
                options["partition_events"],
                options["partition_migration_events"],
                self.stderr,
            )
        self.print_table(results)
        path = Path(options["json"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2))
        self.stdout.write(f"\nWritten to {path}")

    def bench_write(self, inserts: int = 3000, bookings: int = 1000) -> dict[str, Any]:
        """The floor of a write (one-row INSERT + COMMIT) beside a booking through the commands."""
        tenant = make_tenant()
        try:
            with schema_context(tenant.schema_name):
                with connection.cursor() as cursor:
                    cursor.execute("CREATE TABLE bench_floor (id bigserial PRIMARY KEY, v int)")
                with timed() as floor:
                    for n in range(inserts):
                        with transaction.atomic(), connection.cursor() as cursor:
                            cursor.execute("INSERT INTO bench_floor (v) VALUES (%s)", [n])
                doctors, patient = seed_doctors(4)
                feed = SlotFeed(doctors)
                with timed() as booking:
                    for _ in tqdm(range(bookings), desc="bookings", file=self.stderr):
                        doctor, start = feed.next()
                        commands.appointment_book(
                            actor=None, doctor=doctor, patient=patient, start=start
                        )
        finally:
            drop_tenant(tenant)
        floor_tps = inserts / floor.seconds
        booking_tps = bookings / booking.seconds
        return {
            "insert_commit_per_s": round(floor_tps),
            "booking_command_per_s": round(booking_tps),
            "booking_cost_x_floor": round(floor_tps / booking_tps, 2),
        }

    def bench_http(
        self, seconds: float, doctor_count: int = 10, per_doctor: int = 30
    ) -> dict[str, Any]:
        """Bookings through the API, then the doctor's day and the branch board beside a trivial
        authenticated view, on daphne with a Celery worker keeping the read models current."""
        tenant = make_tenant("chain")
        host = tenant_domain(tenant.slug)
        try:
            with schema_context(tenant.schema_name):
                token = owner_token()
                doctors, patient = seed_doctors(doctor_count)
                branch = Branch.objects.get()
            day = datetime.now(IST).date() + timedelta(days=1)
            opening = datetime.combine(day, clock(8), tzinfo=IST)
            bodies = [
                {
                    "doctor": doctor.pk,
                    "patient": patient.pk,
                    "start": (opening + timedelta(minutes=SLOT_MINUTES * n)).isoformat(),
                }
                for n in range(per_doctor)
                for doctor in doctors
            ]
            with web_server() as (web, port), celery_worker() as worker:
                self.stderr.write(f"HTTP: {len(bodies)} bookings…")
                booking = post_all(
                    Target(host, token, "/api/v1/appointments/"), port, bodies, clients=4
                )
                with schema_context(tenant.schema_name):
                    head = Event.objects.order_by("-position").values_list("position", flat=True)
                    last = head.first() or 0
                    caught_up = wait_for(lambda: _position() >= last, 60)

                def trivial(n: int) -> Target:
                    return Target(host, token, "/api/v1/auth/me/")

                def doctor_day(n: int) -> Target:
                    doctor = doctors[n % len(doctors)]
                    return Target(host, token, f"/api/v1/doctors/{doctor.pk}/day/?date={day}")

                def board(n: int) -> Target:
                    return Target(host, token, f"/api/v1/branches/{branch.pk}/board/?date={day}")

                reads: dict[str, Any] = {}
                for name, target_for in (
                    ("trivial_view", trivial),
                    ("doctor_day", doctor_day),
                    ("branch_board", board),
                ):
                    self.stderr.write(f"HTTP: reading {name}…")
                    closed_loop(target_for, port, clients=4, seconds=1)  # warm caches
                    reads[name] = {
                        "max": closed_loop(target_for, port, clients=8, seconds=seconds),
                        "at_100_per_s": paced(target_for, port, rate=100, seconds=seconds),
                    }
                memory = {
                    "web_peak_rss_mb": web.peak_rss_mb(),
                    "worker_peak_rss_mb": worker.peak_rss_mb(),
                }
        finally:
            drop_tenant(tenant)
        floor = reads["trivial_view"]["max"]["per_s"]
        for name in ("doctor_day", "branch_board"):
            reads[name]["share_of_trivial"] = round(reads[name]["max"]["per_s"] / floor, 2)
        return {
            "booking_api": booking,
            "read_models_caught_up": caught_up,
            "appointments_on_board": len(bodies),
            "reads": reads,
            "memory": memory,
        }

    def bench_serving(self, seconds: float) -> dict[str, Any]:
        """As deployed: nginx in front of gunicorn with one uvicorn worker, then one per core.
        Each path: `wrk` at 16 connections (closed loop) and the paced generator at 100
        requests/s (open loop), after a warm-up; peak memory of every process."""
        tenant = make_tenant("chain")
        host = tenant_domain(tenant.slug)
        try:
            with schema_context(tenant.schema_name):
                token, doctor, branch, day = seed_reads()
            cpu = read_cpu(host, token, doctor, branch, day, requests=1000)
            targets = {
                "healthz": Target(host, "", "/healthz"),
                "trivial_view": Target(host, token, "/api/v1/auth/me/"),
                "doctor_day": Target(host, token, f"/api/v1/doctors/{doctor.pk}/day/?date={day}"),
                "branch_board": Target(
                    host, token, f"/api/v1/branches/{branch.pk}/board/?date={day}"
                ),
            }
            shapes: dict[str, Any] = {}
            for workers in sorted({1, os.cpu_count() or 1}):
                with proxied_web(workers) as web:
                    for target in targets.values():
                        closed_loop(partial(_same, target), web.port, clients=4, seconds=1)
                    warm = web.memory()
                    paths: dict[str, Any] = {}
                    for name, target in targets.items():
                        self.stderr.write(f"serving: {workers} worker(s), {name}…")
                        paths[name] = {
                            "load_before": os.getloadavg()[0],
                            "wrk": wrk(target, web.port, connections=16, seconds=seconds),
                            "at_100_per_s": paced(
                                partial(_same, target), web.port, rate=100, seconds=seconds
                            ),
                        }
                    floor = paths["healthz"]["wrk"]["per_s"]
                    for name in ("trivial_view", "doctor_day", "branch_board"):
                        paths[name]["share_of_healthz"] = round(
                            paths[name]["wrk"]["per_s"] / floor, 2
                        )
                    shapes[str(workers)] = {
                        "paths": paths,
                        "memory": web.memory(),
                        "rss_after_warm_up_mb": warm["web_workers_rss_mb"],
                    }
        finally:
            drop_tenant(tenant)
        return {"web_workers": shapes, "appointments_on_board": 300, "cpu_in_process": cpu}

    def bench_cpu(self, requests: int, profile: bool) -> dict[str, Any]:
        """The serving part's in-process CPU a request alone (no nginx, no wrk: seconds, not
        minutes), with each path's top functions by cumulative time when `profile` is set."""
        tenant = make_tenant("chain")
        host = tenant_domain(tenant.slug)
        try:
            with schema_context(tenant.schema_name):
                token, doctor, branch, day = seed_reads()
            return read_cpu(host, token, doctor, branch, day, requests=requests, profile=profile)
        finally:
            drop_tenant(tenant)

    def bench_writes(self, bookings: int, connections: int = 16) -> dict[str, Any]:
        """Bookings per second through nginx and one web worker per core, with the same 16
        connections spread over 1, 4 and 16 tenants (the append lock is per tenant), beside
        the command layer's rate on one thread; a Celery worker projects as deployed."""
        counts = (1, 4, 16)
        made = [make_tenant() for _ in range(max(counts))]
        servers = {"postgres": postgres_pid(), "redis": redis_pid()}
        try:
            seeded = []
            for tenant in made:
                with schema_context(tenant.schema_name):
                    doctors, patient = seed_doctors(4)
                    seeded.append((tenant, owner_token(), SlotFeed(doctors), patient))
            _, _, feed, patient = seeded[0]
            with schema_context(made[0].schema_name), timed() as in_process:
                for _ in range(bookings // 2):
                    doctor, start = feed.next()
                    commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
            command_rate = (bookings // 2) / in_process.seconds
            with schema_context(made[0].schema_name), cpu_split(servers, bookings // 2) as spent:
                for _ in range(bookings // 2):
                    doctor, start = feed.next()
                    commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
            command_cpu = spent
            over_http: dict[str, Any] = {}
            with proxied_web(os.cpu_count() or 1) as web, celery_worker() as worker:
                trees = {
                    **servers,
                    "web": web.web.popen.pid,
                    "nginx": web.nginx.popen.pid,
                    "worker": worker.popen.pid,
                }
                for count in counts:
                    self.stderr.write(f"writes: {bookings} bookings over {count} tenant(s)…")
                    over_http[str(count)] = self._book_in_parallel(
                        seeded[:count], web.port, bookings, connections, trees
                    )
                memory = web.memory()
        finally:
            for tenant in made:
                drop_tenant(tenant)
        one = over_http["1"]["per_s"]
        return {
            "command_layer_per_s": round(command_rate),
            # A second pass of the same bookings, for the CPU each took (the first pass is
            # the rate: this one pays for reading /proc).
            "command_layer_cpu": command_cpu,
            "over_http": over_http,
            "http_share_of_command_layer": round(one / command_rate, 2),
            "sixteen_tenants_x_one": round(over_http["16"]["per_s"] / one, 2),
            "memory": memory,
            "connections": connections,
        }

    @staticmethod
    def _book_in_parallel(
        seeded: list[tuple[Tenant, str, SlotFeed, Patient]],
        port: int,
        bookings: int,
        connections: int,
        trees: dict[str, int],
    ) -> dict[str, Any]:
        per_tenant, clients = bookings // len(seeded), max(1, connections // len(seeded))
        jobs = []
        for tenant, token, feed, patient in seeded:
            bodies = []
            for _ in range(per_tenant):
                doctor, start = feed.next()
                bodies.append(
                    {"doctor": doctor.pk, "patient": patient.pk, "start": start.isoformat()}
                )
            target = Target(tenant_domain(tenant.slug), token, "/api/v1/appointments/")
            jobs.append((target, bodies))
        outcomes: list[dict[str, Any]] = []

        def book(target: Target, bodies: list[dict[str, Any]]) -> None:
            outcomes.append(post_all(target, port, bodies, clients=clients))

        threads = [threading.Thread(target=book, args=job) for job in jobs]
        with (
            cpu_split(trees, per_tenant * len(seeded)) as spent,
            commits(per_tenant * len(seeded)) as committed,
        ):
            with wait_profile() as waits, timed() as wall:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            # The worker's projections of these bookings count too: until it is idle.
            with timed() as drain:
                wait_for(lambda: idle(trees["worker"]), 60)
        return {
            "cpu": spent,
            "database": committed,
            "worker_drain_s": round(drain.seconds, 2),
            "postgresql_waits": shares(waits),
            "tenants": len(seeded),
            "bookings": per_tenant * len(seeded),
            "per_s": round(per_tenant * len(seeded) / wall.seconds),
            "errors": sum(outcome["errors"] for outcome in outcomes),
            "p99_ms_worst_tenant": max(outcome["p99_ms"] for outcome in outcomes),
            "load_after": os.getloadavg()[0],
        }

    def bench_streams(self, count: int) -> dict[str, Any]:
        """`count` board streams held open through nginx to one web worker per core; then one
        booking, and how long its push takes to reach every stream (from just after commit)."""
        raise_file_limit(count)
        tenant = make_tenant()
        host = tenant_domain(tenant.slug)
        streams: list[socket.socket] = []
        try:
            with schema_context(tenant.schema_name):
                doctors, patient = seed_doctors(1)
                branch = Branch.objects.get()
                browser = TestClient()
                browser.force_login(User.objects.get(role=Role.OWNER))
                session = browser.cookies["sessionid"].value
            request = (
                f"GET /events/branches/{branch.pk}/ HTTP/1.1\r\nHost: {host}\r\n"
                f"Cookie: sessionid={session}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
            with proxied_web(os.cpu_count() or 1, connections=count + 64) as web:
                opened, open_all_s = open_streams(streams, web.port, request, count)
                self.stderr.write(f"streams: {len(opened)} of {count} open; one booking…")
                with schema_context(tenant.schema_name):
                    doctor, start = SlotFeed(doctors).next()
                    commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
                    committed = time.perf_counter()
                    catch_up()
                arrived = _read_all_until(streams, b"event: board", 10)
                memory = web.memory()
        finally:
            for stream in streams:
                stream.close()
            drop_tenant(tenant)
        return {
            "streams": count,
            **push_summary(opened, open_all_s, arrived, committed),
            "memory": memory,
            "file_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        }

    def bench_displays(self, count: int) -> dict[str, Any]:
        """`count` waiting-room display streams of one branch held open through nginx; then
        one doctor's call of a checked-in token, and how long the display state takes to
        reach every screen (from just after commit)."""
        raise_file_limit(count)
        tenant = make_tenant()
        host = tenant_domain(tenant.slug)
        streams: list[socket.socket] = []
        try:
            with schema_context(tenant.schema_name):
                doctors, patient = seed_doctors(1)
                branch = Branch.objects.get()
                doctor, start = SlotFeed(doctors).next()
                visit = commands.appointment_book(
                    actor=None, doctor=doctor, patient=patient, start=start
                )
                visit = commands.appointment_check_in(actor=None, appointment=visit, now=start)
                _, key = queue.display_link_create(
                    actor=None, branch=branch, name="Bench hall", language="en"
                )
                catch_up()
            request = (
                f"GET /queue/branches/{branch.pk}/events/?key={key} HTTP/1.1\r\nHost: {host}"
                "\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
            with proxied_web(os.cpu_count() or 1, connections=count + 64) as web:
                opened, open_all_s = open_streams(streams, web.port, request, count)
                self.stderr.write(f"displays: {len(opened)} of {count} open; one call…")
                with schema_context(tenant.schema_name):
                    queue.patient_call(actor=None, appointment=visit)
                    committed = time.perf_counter()
                    catch_up()
                arrived = _read_all_until(streams, b"event: queue", 10)
        finally:
            for stream in streams:
                stream.close()
            drop_tenant(tenant)
        return {"displays": count, **push_summary(opened, open_all_s, arrived, committed)}

    def bench_tenants(self, options: dict[str, Any]) -> dict[str, Any]:
        if not options["in_bench_database"]:
            return tenants.in_bench_database(
                options["tenants"],
                options["tenants_step"],
                options["idle_seconds"],
                options["keep_bench_database"],
                self.stderr.write,
            )
        return self.bench_tenants_here(
            options["tenants"], options["tenants_step"], options["idle_seconds"],
            Path(options["tenants_json"]), resume=options["tenants_resume"],
        )  # fmt: skip

    def bench_tenants_here(
        self,
        count: int,
        step: int,
        idle_seconds: float,
        out: Path,
        seconds: float = 8.0,
        *,
        resume: bool = False,
    ) -> dict[str, Any]:
        """In the bench database: spares made each way, sign-up and disk as the tenants grow,
        request latency with one tenant and with all, and the background's idle CPU."""
        results: dict[str, Any] = {"tenants": count, "step": step}

        def save(curve: list[dict[str, Any]] | None = None) -> None:
            if curve is not None:
                results["curve"] = curve
            out.write_text(json.dumps(results, indent=2))

        if resume:  # a run that stopped, its database kept: carry on from its JSON
            results.update({**json.loads(out.read_text()), "tenants": count})
            made = Tenant.objects.exclude(schema_name="public").order_by("created")
            targets = [tenant_targets(tenant) for tenant in tqdm(made, file=self.stderr)]
        else:
            migrate_all()
            results["spare_methods_at_start"] = tenants.spare_methods()
            save()
            spare_schemas_top_up(actor=None, target=1)
            targets = [tenant_targets(make_tenant())]
            with web_server() as (_, port):
                results["one_tenant"] = request_latency(targets, port, seconds)
            save()
        tenants.grow(
            count,
            step,
            make_tenant,
            lambda tenant: targets.append(tenant_targets(tenant)),
            save,
            self.stderr,
            results.get("curve"),
        )
        results["spare_methods_at_end"] = tenants.spare_methods()
        save()
        with web_server() as (_, port):
            results["spread_over_all"] = request_latency(targets, port, seconds)
            # The first tenant again, now among many: what the catalog alone adds.
            results["one_tenant_among_many"] = request_latency(targets[:1], port, seconds)
        results["latency_overhead"] = {
            name: round(
                results["spread_over_all"][name]["mean_ms"] / results["one_tenant"][name]["mean_ms"]
                - 1,
                3,
            )
            for name in results["one_tenant"]
        }
        save()
        results["idle"] = tenants.idle_cpu(idle_seconds, self.stderr.write)
        save()
        return results

    def bench_idle(self, count: int, seconds: float) -> dict[str, Any]:
        """The Procfile's background processes with `count` idle tenants in the directory, the
        padding taken out again after."""
        added = tenants.pad_tenants(count, self.stderr.write)
        try:
            return {
                "tenants": Tenant.objects.exclude(schema_name="public").count(),
                "padded_without_schema": added,
                **tenants.idle_cpu(seconds, self.stderr.write),
            }
        finally:
            tenants.unpad_tenants()

    def bench_migrations(self, count: int, sample: int = 0) -> dict[str, Any]:
        """`migrate_tenants` against django-tenants' `migrate_schemas` over `count` tenant
        schemas (copies of the template): with nothing to apply, and applying one migration
        (`apps.bench.migration_probe`), serially and with two processes. With `count` 0, over
        the schemas this database already has (e.g. a kept `--only tenants` database): the
        runner only, serially, since `migrate_schemas` takes about a second a schema."""
        if count == 0:
            return self.bench_migrations_in_place(sample)
        tenants = copy_template(count, f"bench_mig_{uuid.uuid4().hex[:6]}")
        names = [tenant.schema_name for tenant in tenants]
        directory = Path(tempfile.mkdtemp(prefix="bench-migrations-"))
        package = migration_probe.write_package(directory)
        env = migration_probe.driver_env(directory, package)

        def seconds(*command: str, probe: bool = False) -> float:
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            argv = migration_probe.driver_argv(*command) if probe else [*manage, *command]
            with timed() as run:
                subprocess.run([*argv, "-v", "0"], env=env if probe else None, check=True)  # noqa: S603
            return round(run.seconds, 1)

        def per_schema() -> dict[str, Any]:
            rows = SchemaMigration.objects.filter(schema__in=names, applied=1)
            return summary_ms([row.seconds for row in rows if row.seconds is not None])

        results: dict[str, Any] = {"tenant_schemas": count}
        try:
            self.stderr.write(f"migrations over {count} tenant schemas…")
            results["runner_first_noop_s"] = seconds("migrate_tenants")
            results["runner_noop_s"] = seconds("migrate_tenants")
            results["migrate_schemas_noop_s"] = seconds("migrate_schemas")
            results["runner_one_migration_s"] = seconds("migrate_tenants", probe=True)
            results["runner_one_migration_per_schema"] = per_schema()
            migration_probe.forget()
            results["runner_2_jobs_one_migration_s"] = seconds(
                "migrate_tenants", "--jobs", "2", probe=True
            )
            results["runner_2_jobs_one_migration_per_schema"] = per_schema()
            migration_probe.forget()
            results["migrate_schemas_one_migration_s"] = seconds("migrate_schemas", probe=True)
        finally:
            migration_probe.forget()
            SchemaMigration.objects.filter(schema__in=names).delete()
            drop_copies(tenants)
            shutil.rmtree(directory)
        return results

    def bench_migrations_in_place(self, sample: int = 0) -> dict[str, Any]:
        """The runner over every upkeep schema of this database as it is: a no-op, then the
        probe migration applied everywhere, or to every n-th schema for a `sample` of that
        many (per-schema times from the progress table), then the probe taken out again."""
        names = migrator.upkeep_schemas()
        chosen = names if not sample else names[:: max(1, len(names) // sample)][:sample]
        directory = Path(tempfile.mkdtemp(prefix="bench-migrations-"))
        package = migration_probe.write_package(directory)
        env = migration_probe.driver_env(directory, package)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        results: dict[str, Any] = {"schemas": len(names), "database_mb": round(
            tenants.database_bytes() / 1e6, 1)}  # fmt: skip
        try:
            self.stderr.write(f"migrations over the {len(names)} schemas here…")
            for key in ("runner_first_noop_s", "runner_noop_s"):
                with timed() as run:
                    subprocess.run([*manage, "migrate_tenants", "-v", "0"], check=True)  # noqa: S603
                results[key] = round(run.seconds, 1)
            subset = ["--schemas", ",".join(chosen)] if sample else []
            argv = migration_probe.driver_argv("migrate_tenants", *subset, "-v", "0")
            with timed() as run:
                subprocess.run(argv, env=env, check=True)  # noqa: S603
            results["runner_one_migration_s"] = round(run.seconds, 1)
            results["sampled"] = bool(sample)
            rows = SchemaMigration.objects.filter(schema__in=chosen, applied=1)
            times = [row.seconds for row in rows if row.seconds is not None]
            results["runner_one_migration_per_schema"] = summary_ms(times)
            results["schemas_migrated"] = len(times)
        finally:
            migration_probe.forget()
            shutil.rmtree(directory)
        return results

    def bench_signup(self, count: int) -> dict[str, Any]:
        samples = []
        for _ in tqdm(range(count), desc="signup", file=self.stderr):
            with timed() as timer:
                tenant = make_tenant()
            samples.append(timer.seconds)
            drop_tenant(tenant)
        return summary_ms(samples)

    def bench_lag(self, bookings: int, rate: float) -> dict[str, Any]:
        """Commit → read-model lag with a real Celery worker, under a steady booking rate."""
        tenant = make_tenant()
        worker = subprocess.Popen(worker_command(loglevel="error"), stdout=subprocess.DEVNULL)  # noqa: S603
        seen: list[tuple[float, int]] = []
        stop = threading.Event()

        def poll_position() -> None:
            connection.set_schema(tenant.schema_name)
            try:
                while not stop.is_set():
                    position = (
                        ProjectionState.objects.filter(name="appointments")
                        .values_list("position", flat=True)
                        .first()
                    )
                    seen.append((time.perf_counter(), position or 0))
                    time.sleep(0.002)
            finally:
                connection.close()

        try:
            with schema_context(tenant.schema_name):
                doctors, patient = seed_doctors(4)
                feed = SlotFeed(doctors)
                doctor, start = feed.next()
                warm = commands.appointment_book(
                    actor=None, doctor=doctor, patient=patient, start=start
                )
                wait_for(lambda: _position() >= warm.position, 60)
                poller = threading.Thread(target=poll_position)
                poller.start()
                committed: list[tuple[float, int]] = []
                interval = 1 / rate
                next_at = time.perf_counter()
                for _ in tqdm(range(bookings), desc="lag", file=self.stderr):
                    doctor, start = feed.next()
                    booked = commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
                    committed.append((time.perf_counter(), booked.position))
                    next_at += interval
                    time.sleep(max(0.0, next_at - time.perf_counter()))
                wait_for(lambda: _position() >= committed[-1][1], 60)
                time.sleep(0.05)
                stop.set()
                poller.join()
        finally:
            stop.set()
            worker.terminate()
            worker.wait(20)
            drop_tenant(tenant)
        lags = []
        for at, position in committed:
            reached = next((t for t, p in seen if p >= position and t >= at), None)
            if reached is not None:
                lags.append(reached - at)
        return {**summary_ms(lags), "bookings": bookings, "rate_per_s": rate}

    def bench_relay(self, events: int, bookings: int, rate: float) -> dict[str, Any]:
        """The event-bus relay: throughput over a backlog, commit → bus lag at a booking rate."""
        tenant = make_tenant()
        try:
            with schema_context(tenant.schema_name):
                doctors, patient = seed_doctors(4)
                feed = SlotFeed(doctors)

                def book() -> int:
                    doctor, start = feed.next()
                    return commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    ).position

                with notifying_relay():  # the relay's bus is set here for its process only
                    return bench_relay(
                        tenant,
                        env=dict(os.environ),
                        book=book,
                        events=events,
                        bookings=bookings,
                        rate=rate,
                    )
        finally:
            drop_tenant(tenant)

    def bench_gst(self, visits: int) -> dict[str, Any]:
        """GST documents (a Bill of Supply and a Tax Invoice per visit, numbers taken under
        the counter's lock), then the month's GSTR-1 CSV over all of them. Opt-in part."""
        tenant = make_tenant()
        try:
            with schema_context(tenant.schema_name):
                billing_commands.gst_supplier_set(
                    actor=None, legal_name="Bench Clinic", gstin="27AAPFU0939F1ZV", address="Pune"
                )
                doctors, patient = seed_doctors(4)
                feed = SlotFeed(doctors)
                bills = []
                for _ in tqdm(range(visits), desc="visits with medicines", file=self.stderr):
                    doctor, start = feed.next()
                    visit = commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
                    bills.append(
                        billing_commands.invoice_item_add(
                            actor=None,
                            appointment=visit,
                            category="pharmacy",
                            description="Bench tablets",
                            quantity=2,
                            unit_price=Decimal("105.00"),
                        )
                    )
                with timed() as issuing:
                    for bill in bills:
                        billing_commands.gst_documents_issue(actor=None, invoice=bill)
                month = datetime.now(IST).strftime("%Y-%m")
                with timed() as report:
                    rows = gstr1.month_csv(month).count("\n") - 1
        finally:
            drop_tenant(tenant)
        return {
            "visits": visits,
            "documents": 2 * visits,
            "issue_per_s": round(visits / issuing.seconds, 1),
            "issue_ms": round(1000 * issuing.seconds / visits, 2),
            "gstr1_rows": rows,
            "gstr1_seconds": round(report.seconds, 3),
        }

    def bench_replay(self, events: int) -> dict[str, Any]:
        tenant = make_tenant()
        try:
            with schema_context(tenant.schema_name):
                doctors, patient = seed_doctors(8)
                feed = SlotFeed(doctors)
                for _ in tqdm(range(events), desc="events for replay", file=self.stderr):
                    doctor, start = feed.next()
                    commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
                total = Event.objects.count()
                with timed() as timer:
                    replay.rebuild(appointments)
        finally:
            drop_tenant(tenant)
        return {
            "events": total,
            "seconds": round(timer.seconds, 3),
            "events_per_s": round(total / timer.seconds),
        }

    def bench_settlement(self, rows: int) -> dict[str, Any]:
        """Payments recorded by the gateway's webhook, then one report settling them all: the
        import, the same file again, and an overlapping file (every row already booked)."""
        from apps.settlements import commands as settlement_commands
        from apps.settlements import upi

        tenant = make_tenant()
        try:
            with schema_context(tenant.schema_name):
                doctors, patient = seed_doctors(8)
                feed = SlotFeed(doctors)
                lines = [
                    "entity_id,type,debit,credit,amount,currency,fee,tax,settled,created_at,"
                    "settled_at,settlement_id,settlement_utr"
                ]
                webhook_seconds = 0.0
                for n in tqdm(range(rows), desc="payments by webhook", file=self.stderr):
                    doctor, start = feed.next()
                    visit = commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
                    entity = {
                        "id": f"pay_bench{n:08d}", "amount": 50000, "currency": "INR",
                        "method": "upi", "notes": {"reference": upi.reference_for(visit.pk, 1)},
                    }  # fmt: skip
                    with timed() as timer:
                        settlement_commands.payment_webhook_receive(
                            event_id=f"evt_bench{n:08d}",
                            event_type="payment.captured",
                            payload={"payment": {"entity": entity}},
                        )
                    webhook_seconds += timer.seconds
                    settlement = f"setl_bench{n // 500:04d}"
                    lines.append(
                        f"pay_bench{n:08d},payment,0,488.20,500.00,INR,11.80,1.80,1,"
                        f"2027-01-04 10:00:00,2027-01-05 11:00:00,{settlement},UTR{settlement}"
                    )
                report = ("\n".join(lines) + "\n").encode()
                with timed() as first:
                    settlement_commands.gateway_file_import(actor=None, raw=report)
                with timed() as again:
                    settlement_commands.gateway_file_import(actor=None, raw=report)
                with timed() as overlap:
                    settlement_commands.gateway_file_import(actor=None, raw=report + b"\n")
        finally:
            drop_tenant(tenant)
        return {
            "rows": rows,
            "webhook_per_s": round(rows / webhook_seconds),
            "import_seconds": round(first.seconds, 3),
            "import_rows_per_s": round(rows / first.seconds),
            "same_file_seconds": round(again.seconds, 3),
            "overlapping_file_seconds": round(overlap.seconds, 3),
        }

    def bench_move(self, bookings: int) -> dict[str, Any]:
        """The write pause of moving a tenant of `bookings` visits to another database of this
        cluster (a cell of its own) while a desk books through the commands all along."""
        tenant = make_tenant()
        cell = f"{connection.settings_dict['NAME']}_bench_cell_{uuid.uuid4().hex[:6]}"
        with backups.connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{cell}" TEMPLATE template0')
        desk_stop, refused, booked = threading.Event(), [], []

        def desk(doctor: Doctor, patient: Patient) -> None:
            feed = SlotFeed([doctor])
            try:
                connection.set_schema(tenant.schema_name)
                doctor, start = feed.next()
                while not desk_stop.is_set():
                    try:
                        commands.appointment_book(
                            actor=None, doctor=doctor, patient=patient, start=start
                        )
                    except TenantMoving:
                        refused.append(time.monotonic())
                        time.sleep(0.02)
                        continue
                    booked.append(time.monotonic())
                    doctor, start = feed.next()
                    time.sleep(0.02)
            finally:
                connection.close()

        def stop_desk(sender: Any, **kwargs: Any) -> None:
            desk_stop.set()

        try:
            with tempfile.TemporaryDirectory() as folder:
                backups.copy_public_definitions(cell, Path(folder))
            with schema_context(tenant.schema_name):
                doctors, patient = seed_doctors(5)
                feed = SlotFeed(doctors[:4])
                for _ in tqdm(range(bookings), desc="bookings to move", file=self.stderr):
                    doctor, start = feed.next()
                    commands.appointment_book(
                        actor=None, doctor=doctor, patient=patient, start=start
                    )
                catch_up()
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = %s AND c.relkind = 'r'",
                        [tenant.schema_name],
                    )
                    size = int(cursor.fetchone()[0])
            writer = threading.Thread(target=desk, args=(doctors[4], patient))
            writer.start()
            tenant_moved.connect(stop_desk)
            try:
                db = connection.settings_dict
                moved = tenant_move(
                    actor=None,
                    slug=tenant.slug,
                    to=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{cell}",
                    progress=lambda line: self.stderr.write(line),
                )
            finally:
                tenant_moved.disconnect(stop_desk)
                desk_stop.set()
                writer.join()
        finally:
            connection.set_schema_to_public()
            with backups.connect(autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{cell}" WITH (FORCE)')
            if Tenant.objects.filter(pk=tenant.pk).exists():
                drop_tenant(tenant)
        return {
            "events": moved.events,
            "rows": moved.rows,
            "schema_mb": round(size / 1e6, 1),
            "write_pause_ms": round(moved.pause_seconds * 1000),
            "desk_bookings_before_the_pause": len(booked),
            "desk_bookings_refused": len(refused),
            "move_seconds": round(moved.seconds, 1),
        }

    def bench_month(self, doctors: int, per_doctor_day: int) -> dict[str, Any]:
        """A hospital month: synthesize it, then time the monthly report and the warehouse load."""
        tenant = make_tenant("hospital")
        warehouse_dir = Path(settings.MYMEDIC_WAREHOUSE_URL.removeprefix("chdb://")).parent
        store = backend(f"chdb://{warehouse_dir / f'bench-{tenant.schema_name}'}")
        try:
            with schema_context(tenant.schema_name):
                branches = [Branch.objects.get()] + [
                    commands_clinic.branch_create(
                        actor=None, name=f"OPD {n}", timezone="Asia/Kolkata"
                    )
                    for n in range(2, 11)
                ]
                self.stderr.write("synthesizing the month…")
                with timed() as made:
                    events = synthesize_month(
                        date(2027, 1, 1),
                        [b.pk for b in branches],
                        doctors=doctors,
                        per_doctor_per_day=per_doctor_day,
                        days=30,
                    )
                with timed() as report_timer:
                    report = reports.monthly("2027-01", branches)
                with timed() as again_timer:
                    reports.monthly("2027-01", branches)
                with timed() as load_timer:
                    loaded = export(TenantWarehouse(tenant.schema_name, store))
                with timed() as query_timer:
                    analytics = chain_analytics(
                        TenantWarehouse(tenant.schema_name, store),
                        date(2027, 1, 1),
                        date(2027, 1, 31),
                        "month",
                    )
        finally:
            drop_tenant(tenant)
            shutil.rmtree(store.path, ignore_errors=True) if isinstance(
                store, EmbeddedBackend
            ) else None
        return {
            "appointments": doctors * per_doctor_day * 30,
            "events": events,
            "synthesize_s": round(made.seconds, 1),
            "monthly_report_s": round(report_timer.seconds, 2),
            "monthly_report_again_s": round(again_timer.seconds, 2),
            "chain_bookings": report["chain"]["bookings"],
            "warehouse_load_s": round(load_timer.seconds, 1),
            "warehouse_facts": loaded["facts"],
            "warehouse_query_s": round(query_timer.seconds, 3),
            "analytics_rows": len(analytics),
        }

    def bench_hl7(
        self, messages: int, connections: int, channels: int, processes: int, modes: list[str]
    ) -> dict[str, Any]:
        """Sustained inbound ADT over MLLP (apps/bench/hl7.py), in a tenant of its own."""
        tenant = make_tenant()
        try:
            return bench_hl7(
                tenant,
                connections=connections,
                per_connection=messages // connections,
                channels=channels,
                processes=processes,
                modes=modes,
            )
        finally:
            drop_tenant(tenant)

    def print_table(self, results: dict[str, Any]) -> None:
        rows = fhir_rows(results.get("fhir")) + board_rows(results.get("board"))
        if costs := results.get("costs"):
            for name, unit in costs["cpu"].items():
                rows.append(
                    (
                        f"CPU per {name.replace('_', ' ')}",
                        f"{unit['cpu_ms']} ms (app {unit['app_ms']}, PostgreSQL "
                        f"{unit['postgres_ms']}, Redis {unit['redis_ms']}; n={unit['units']})",
                    )
                )
            shown = ", ".join(
                f"{k.replace('_', ' ')} {v}" for k, v in costs["bytes_per_visit"].items()
            )
            rows.append(("bytes per visit", shown))
            for segment in costs.get("segments", []):
                rows.append(
                    (
                        f"infrastructure a month, {segment['segment']}",
                        f"₹{segment['infra_inr_a_month']:,} vs {segment['plan']} plan "
                        f"₹{segment['plan_price_inr_a_month']:,} "
                        f"({segment['infra_share_of_price_pct']} %)",
                    )
                )
        if settled := results.get("settlement"):
            rows.append(
                (
                    f"settlement report of {settled['rows']} rows",
                    f"import {settled['import_seconds']} s "
                    f"({settled['import_rows_per_s']} rows/s), same file "
                    f"{settled['same_file_seconds']} s, overlapping file "
                    f"{settled['overlapping_file_seconds']} s; "
                    f"webhook {settled['webhook_per_s']}/s",
                )
            )
        if gst_part := results.get("gst"):
            rows.append(
                (
                    f"GST documents for {gst_part['visits']} visits; GSTR-1 CSV",
                    f"{gst_part['issue_ms']} ms a visit ({gst_part['documents']} documents), "
                    f"CSV {gst_part['gstr1_seconds']} s for {gst_part['gstr1_rows']} rows",
                )
            )
        if write := results.get("write"):
            rows.append(
                (
                    "booking via commands vs INSERT+COMMIT floor",
                    f"{write['booking_command_per_s']}/s vs {write['insert_commit_per_s']}/s "
                    f"= {write['booking_cost_x_floor']}x the floor",
                )
            )
        if inproc := results.get("hl7_in_process"):
            rows.append(
                (
                    f"inbound HL7 in-process, {inproc['messages']} A04 (CPU and statements a "
                    "message)",
                    f"store {inproc['store_cpu_ms']} ms, {inproc['store_statements']} "
                    f"statements; apply {inproc['apply_cpu_ms']} ms, "
                    f"{inproc['apply_statements']} statements, {inproc['apply_savepoints']} "
                    "savepoints",
                )
            )
        if hl7 := results.get("hl7"):
            for run in hl7["runs"]:
                cpu = run["cpu_ms_per_message"]
                rows.append(
                    (
                        f"inbound HL7 ADT over MLLP, {run['mode']} ACK ({run['connections']} "
                        f"connections, {run['channels']} channels, {run['processes']} "
                        "listener processes)",
                        f"{run['per_s']}/s (applied {run['applied_per_s']}/s), ACK p50 "
                        f"{run['ack_ms']['p50_ms']} ms, p95 {run['ack_ms']['p95_ms']} ms, p99 "
                        f"{run['ack_ms']['p99_ms']} ms, {run['codes']}; CPU a message: "
                        f"listener {cpu['listener']} ms + applier {cpu['applier']} ms + "
                        f"PostgreSQL {cpu['postgres']} ms",
                    )
                )
        if http := results.get("http"):
            api = http["booking_api"]
            rows.append(
                (
                    f"booking via HTTP API ({api['clients']} clients)",
                    f"{api['per_s']}/s, p50 {api['p50_ms']} ms, p99 {api['p99_ms']} ms, "
                    f"{api['errors']} errors",
                )
            )
            for name, read in http["reads"].items():
                top, steady = read["max"], read["at_100_per_s"]
                share = (
                    f" = {read['share_of_trivial']:.0%} of trivial"
                    if "share_of_trivial" in read
                    else ""
                )
                rows.append(
                    (
                        f"read {name}",
                        f"max {top['per_s']}/s{share} ({top['errors']} errors); at 100/s "
                        f"p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms",
                    )
                )
            memory = http["memory"]
            rows.append(
                (
                    "peak memory (RSS)",
                    f"web {memory['web_peak_rss_mb']} MiB, "
                    f"worker {memory['worker_peak_rss_mb']} MiB",
                )
            )
        if serving := results.get("serving"):
            rows += serving_rows(serving)
        if cpu := results.get("cpu"):
            rows += cpu_rows(cpu)
        if writes := results.get("writes"):
            rows.append(
                ("bookings, command layer (1 thread)", f"{writes['command_layer_per_s']}/s")
            )
            for count, run in writes["over_http"].items():
                rows.append(
                    (
                        f"bookings over HTTP, {count} tenant(s), {writes['connections']} conns",
                        f"{run['per_s']}/s, {run['errors']} errors, "
                        f"worst tenant p99 {run['p99_ms_worst_tenant']} ms; PostgreSQL "
                        + ", ".join(f"{k} {v:.0%}" for k, v in run["postgresql_waits"].items()),
                    )
                )
            rows.append(("CPU a booking, command layer", cpu_shares(writes["command_layer_cpu"])))
            for count, run in writes["over_http"].items():
                rows.append(
                    (
                        f"CPU a booking over HTTP, {count} tenant(s)",
                        f"{cpu_shares(run['cpu'])}; worker drained in {run['worker_drain_s']} s;"
                        f" a booking: {run['database']['commits_per_unit']} commits, "
                        f"{run['database']['wal_flushes_per_unit']} WAL flushes",
                    )
                )
            rows.append(
                (
                    "bookings: HTTP / command layer; 16 tenants / 1",
                    f"{writes['http_share_of_command_layer']:.0%}; "
                    f"{writes['sixteen_tenants_x_one']}x",
                )
            )
        if streams := results.get("streams"):
            push = streams["push"]
            rows.append(
                (
                    f"board streams open ({streams['streams']})",
                    f"{streams['opened']} opened in {streams['open_all_s']} s; push reached "
                    f"{streams['pushed_to']} ({streams['within_1_s']} within 1 s), "
                    f"p50 {push.get('p50_ms')} ms, p99 {push.get('p99_ms')} ms, "
                    f"max {streams['push_max_ms']} ms",
                )
            )
        if displays := results.get("displays"):
            push = displays["push"]
            rows.append(
                (
                    f"waiting-room displays open ({displays['displays']})",
                    f"{displays['opened']} opened in {displays['open_all_s']} s; a call reached "
                    f"{displays['pushed_to']} ({displays['within_1_s']} within 1 s), "
                    f"p50 {push.get('p50_ms')} ms, p99 {push.get('p99_ms')} ms, "
                    f"max {displays['push_max_ms']} ms",
                )
            )
        if grown := results.get("tenants"):
            rows.extend(tenant_rows(grown))
        if migrations := results.get("migrations"):
            count = migrations["tenant_schemas"]
            rows.append(
                (
                    f"migrations, nothing to apply ({count} tenant schemas)",
                    f"migrate_tenants {migrations['runner_noop_s']} s, "
                    f"migrate_schemas {migrations['migrate_schemas_noop_s']} s",
                )
            )
            per = migrations["runner_one_migration_per_schema"]
            rows.append(
                (
                    f"migrations, one to apply ({count} tenant schemas)",
                    f"migrate_tenants {migrations['runner_one_migration_s']} s "
                    f"(p50 {per['p50_ms']} ms a schema), --jobs 2 "
                    f"{migrations['runner_2_jobs_one_migration_s']} s, "
                    f"migrate_schemas {migrations['migrate_schemas_one_migration_s']} s",
                )
            )
        if signup := results.get("signup"):
            rows.append(
                (
                    "signup (clone template schema)",
                    f"p50 {signup['p50_ms']} ms, p95 {signup['p95_ms']} ms (n={signup['n']})",
                )
            )
        if lag := results.get("projection_lag"):
            rows.append(
                (
                    f"projection lag @ {lag['rate_per_s']:.0f} bookings/s",
                    f"p50 {lag['p50_ms']} ms, p95 {lag['p95_ms']} ms, p99 {lag['p99_ms']} ms",
                )
            )
        for move in results.get("move", []):
            rows.append(
                (
                    f"moving a tenant ({move['events']:,} events, {move['schema_mb']} MB)",
                    f"writes paused {move['write_pause_ms']} ms, "
                    f"{move['desk_bookings_refused']} bookings refused and retried, "
                    f"move {move['move_seconds']} s",
                )
            )
        if month := results.get("hospital_month"):
            rows.append(
                (
                    f"hospital month ({month['appointments']:,} visits, "
                    f"{month['events']:,} events)",
                    f"monthly report {month['monthly_report_s']} s, warehouse load "
                    f"{month['warehouse_load_s']} s, "
                    f"analytics query {month['warehouse_query_s']} s",
                )
            )
        if rep := results.get("replay"):
            rows.append(
                (
                    "replay (appointments)",
                    f"{rep['events_per_s']} events/s over {rep['events']} events",
                )
            )
        if bus := results.get("relay"):
            put, lag = bus["throughput"], bus["lag"]
            rows.append(
                (
                    "event-bus relay to JetStream",
                    f"{put['events_per_s']} events/s over {put['events']} events",
                )
            )
            rows.append(
                (
                    "relay CPU per 10,000 events",
                    f"relay {put['relay_cpu_seconds_per_10k']} s, nats-server "
                    f"{put['nats-server_cpu_seconds_per_10k']} s, postgres "
                    f"{put['postgres_cpu_seconds_per_10k']} s",
                )
            )
            rows.append(
                (
                    f"commit → bus lag @ {lag['rate_per_s']:.0f} bookings/s",
                    f"p50 {lag['p50_ms']} ms, p95 {lag['p95_ms']} ms, p99 {lag['p99_ms']} ms",
                )
            )
        if partitioned := results.get("partitions"):
            month = partitioned["archive"]
            rows.append(
                (
                    f"archive a month of {month['events']} events",
                    f"{month['total_s']} s in {month['chunks']} chunks (slowest "
                    f"{month['slowest_chunk_s']} s), detach+check+drop "
                    f"{month['detach_check_drop_s']} s, slowest append "
                    f"{month['writer_slowest_append_ms']} ms",
                )
            )
            if moved := partitioned.get("online_migration"):
                rows.append(
                    (
                        f"partition a log of {moved['events']} events online",
                        f"lock {moved['swap_lock_ms']} ms, slowest append "
                        f"{moved['writer_slowest_append_ms']} ms, all {moved['migration_s']} s",
                    )
                )
        if not rows:
            return
        width = max(len(name) for name, _ in rows)
        self.stdout.write("")
        for name, value in rows:
            self.stdout.write(f"{name.ljust(width)}  {value}")


def _goal(met: bool) -> str:
    return "met" if met else "MISSED"


def cpu_shares(split: dict[str, float]) -> str:
    """A `procs.cpu_split` a unit: the whole, then each process tree that spent any."""
    parts = [
        f"{name} {split[f'{name}_ms']}"
        for name in ("web", "nginx", "worker", "postgres", "redis", "bench")
        if split.get(f"{name}_ms")
    ]
    return (
        f"{split['all_ms']} ms ({', '.join(parts)}; 'bench' is the load generator or the "
        f"in-process caller); {split['cores_busy']} cores busy"
    )


def serving_rows(serving: dict[str, Any]) -> list[tuple[str, str]]:
    """The serving part's table: each path and shape against its goal (docs/PERFORMANCE.md)."""
    rows: list[tuple[str, str]] = []
    reads = ("doctor_day", "branch_board")
    for workers, shape in serving["web_workers"].items():
        for name, path in shape["paths"].items():
            top, steady = path["wrk"], path["at_100_per_s"]
            share = ""
            if "share_of_healthz" in path:
                ratio = path["share_of_healthz"]
                share = f" = {ratio:.0%} of /healthz"
                if name in reads:
                    share += f" (≥ 70 %: {_goal(ratio >= 0.7)})"
            rows.append(
                (
                    f"{name}, nginx + {workers} web worker(s)",
                    f"wrk -c16 {top['per_s']}/s{share}, p99 {top['p99_ms']} ms "
                    f"(< 50: {_goal(top['p99_ms'] < 50)}; {top['non_2xx']} non-2xx); "
                    f"at 100/s p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms "
                    f"(< 20: {_goal(steady['p99_ms'] < 20)})",
                )
            )
        memory = shape["memory"]
        rows.append(
            (
                f"memory, {workers} web worker(s)",
                f"each worker {shape['rss_after_warm_up_mb']} MiB after warm-up, peak "
                f"{memory['web_workers_peak_rss_mb']} MiB; master "
                f"{memory['gunicorn_master_peak_rss_mb']} MiB, nginx "
                f"{memory['nginx_peak_rss_mb']} MiB",
            )
        )
    return rows + cpu_rows(serving["cpu_in_process"])


def cpu_rows(cpu: dict[str, Any]) -> list[tuple[str, str]]:
    """CPU a request in process against the 1.3× goal, and each profiled path's top functions."""
    rows: list[tuple[str, str]] = []
    if len(cpu.get("renderers", [])) > 1:
        rows.append(("NOT as deployed", "DEBUG was on when settings were read: MYMEDIC_DEBUG=0"))
    for name, row in cpu["paths"].items():
        ratio = row["cpu_x_baseline"]
        goal = f" (≤ 1.3×: {_goal(ratio <= 1.3)})" if name != "healthz" else ""
        rows.append(
            (
                f"CPU a request in process, {name} ({cpu['requests']})",
                f"{row['cpu_us']} µs = {ratio}× /healthz{goal}; wall {row['wall_us']} µs; "
                f"{row['non_200']} non-200",
            )
        )
    for name, profile in cpu.get("profiles", {}).items():
        for order, top in profile.items():
            rows.extend(
                (
                    f"profile, {name}, by {order} time #{n}",
                    f"{item['us']} µs a request ({item['share']:.0%}): {item['function']}",
                )
                for n, item in enumerate(top, 1)
            )
    return rows


def tenant_rows(grown: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for point in grown.get("curve", []):
        signup = point["signup"]
        rows.append(
            (
                f"sign-up at {point['tenants']} tenants",
                f"p50 {signup['p50_ms']} ms, p99 {signup['p99_ms']} ms; spare "
                f"{point['spare_make_s_mean']} s; {point['disk_mb_per_tenant']} MB a tenant",
            )
        )
    for when in ("spare_methods_at_start", "spare_methods_at_end"):
        if methods := grown.get(when):
            made = ", ".join(
                f"{method} p50 {methods[method]['p50_ms']} ms"
                for method in SpareSchema.Method.values
            )
            rows.append((f"making a spare at {methods['schemas']} schemas", made))
    for name, overhead in grown.get("latency_overhead", {}).items():
        alone = grown["one_tenant"][name]["mean_ms"]
        spread = grown["spread_over_all"][name]["mean_ms"]
        rows.append(
            (
                f"{name}: 1 vs {grown['tenants']} tenants (mean)",
                f"{alone} ms vs {spread} ms = {overhead:+.1%}",
            )
        )
    if idle := grown.get("idle"):
        rows.append(
            (
                f"idle CPU of worker + jobs + beat ({grown['tenants']} tenants)",
                f"{idle['total_cpu_percent_of_one_core']} % of a core over {idle['seconds']} s "
                f"{idle['cpu_percent_of_one_core']}",
            )
        )
    return rows


def memory_gib() -> float:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return round(pages / 2**30, 1)


def seed_reads() -> tuple[str, Doctor, Branch, date]:
    """In the current tenant: ten doctors with thirty visits each tomorrow, projected; the
    owner's token, the first doctor, the branch and the day."""
    token = owner_token()
    doctors, patient = seed_doctors(10)
    branch = Branch.objects.get()
    day = datetime.now(IST).date() + timedelta(days=1)
    opening = datetime.combine(day, clock(8), tzinfo=IST)
    for n in range(30):
        for doctor in doctors:
            start = opening + timedelta(minutes=SLOT_MINUTES * n)
            commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=start)
    catch_up()
    return token, doctors[0], branch, day


def read_cpu(
    host: str,
    token: str,
    doctor: Doctor,
    branch: Branch,
    day: date,
    *,
    requests: int,
    profile: bool = False,
) -> dict[str, Any]:
    """CPU a request in process of `/healthz` and the three authenticated cached reads."""
    token_header = {"HTTP_AUTHORIZATION": f"Token {token}"}
    paths = {
        "healthz": ("/healthz", {}),
        "trivial_view": ("/api/v1/auth/me/", token_header),
        "doctor_day": (f"/api/v1/doctors/{doctor.pk}/day/?date={day}", token_header),
        "branch_board": (f"/api/v1/branches/{branch.pk}/board/?date={day}", token_header),
    }
    with override_settings(MYMEDIC_API_USER_RATE=SERVER_ENV["MYMEDIC_API_USER_RATE"]):
        measured = cpu_per_request(host, paths, requests=requests)
        if profile:
            measured["profiles"] = {
                name: profile_requests(host, path, headers, requests=min(requests, 500))
                for name, (path, headers) in paths.items()
            }
    # As deployed only when the settings were read without DEBUG (MYMEDIC_DEBUG=0): with it,
    # every API view also offers DRF's browsable renderer, which negotiation then weighs.
    measured["renderers"] = [str(r) for r in api_settings.DEFAULT_RENDERER_CLASSES]
    return measured


def owner_token() -> str:
    owner = User.objects.filter(role=Role.OWNER).order_by("pk").first()
    if owner is None:
        raise CommandError("This tenant has no owner.")
    return tokens.mint(owner)


def tenant_targets(tenant: Tenant) -> dict[str, Target]:
    """A trivial view and one doctor's day on `tenant`, with its owner's token."""
    with schema_context(tenant.schema_name):
        token = owner_token()
        doctor = Doctor.objects.filter(name="Dr. Spread").first() or commands.doctor_add(
            actor=None,
            branch=Branch.objects.get(),
            name="Dr. Spread",
            specialty="GP",
            slot_minutes=15,
            consultation_fee=Decimal("500"),
            weekly_hours=ROUND_THE_CLOCK,
        )
    host = tenant_domain(tenant.slug)
    day = datetime.now(IST).date()
    return {
        "trivial_view": Target(host, token, "/api/v1/auth/me/"),
        "doctor_day": Target(host, token, f"/api/v1/doctors/{doctor.pk}/day/?date={day}"),
    }


def request_latency(targets: list[dict[str, Target]], port: int, seconds: float) -> dict[str, Any]:
    """One client, request after request, each to the next tenant in turn, after one warm-up
    pass over every tenant (as a long-running server would have had)."""
    client = Client(port)
    try:
        for per_tenant in targets:
            for target in per_tenant.values():
                client.status("GET", target)
    finally:
        client.close()
    results = {}
    for name in targets[0]:
        route = [per_tenant[name] for per_tenant in targets]
        results[name] = closed_loop(partial(_nth, route), port, clients=1, seconds=seconds)
    return results


def _nth(route: list[Target], n: int) -> Target:
    return route[n % len(route)]


def _same(target: Target, n: int) -> Target:
    return target


def raise_file_limit(streams: int) -> None:
    """Enough descriptors for `streams` streams: ours, nginx's two each, the workers' one
    (nginx and gunicorn inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * streams + 1024
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def open_streams(
    streams: list[socket.socket], port: int, request: bytes, count: int
) -> tuple[dict[int, float], float]:
    """Opens `count` streams with `request` (added to `streams`, which the caller closes);
    those that said `stream-open` within 60 s, and the seconds it took."""
    with timed() as opening:
        for _ in range(count):
            stream = socket.create_connection(("127.0.0.1", port), timeout=30)
            stream.sendall(request)
            streams.append(stream)
        opened = _read_all_until(streams, b"stream-open", 60)
    return opened, round(opening.seconds, 2)


def push_summary(
    opened: dict[int, float],
    open_all_s: float,
    arrived: dict[int, float],
    committed: float,
) -> dict[str, Any]:
    """How many streams opened and how fast one push reached them, from its commit."""
    latencies = [at - committed for at in arrived.values()]
    return {
        "opened": len(opened),
        "open_all_s": open_all_s,
        "pushed_to": len(arrived),
        "within_1_s": sum(1 for latency in latencies if latency < 1.0),
        "push": summary_ms(latencies) if latencies else {},
        "push_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
    }


def _read_all_until(
    streams: list[socket.socket], marker: bytes, seconds: float
) -> dict[int, float]:
    """Reads every stream until each has shown `marker` (or `seconds` passed): when each did."""
    seen: dict[int, bytes] = {}
    arrived: dict[int, float] = {}
    with selectors.DefaultSelector() as selector:
        for index, stream in enumerate(streams):
            stream.setblocking(False)
            selector.register(stream, selectors.EVENT_READ, index)
        deadline = time.perf_counter() + seconds
        while len(arrived) < len(streams) and time.perf_counter() < deadline:
            for key, _ in selector.select(timeout=0.05):
                index = key.data
                try:
                    chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                seen[index] = seen.get(index, b"")[-64:] + chunk
                if index not in arrived and marker in seen[index]:
                    arrived[index] = time.perf_counter()
                    seen[index] = b""
    return arrived


def connection_tenant_count() -> int:
    connection.set_schema_to_public()
    return Tenant.objects.count()


def _position() -> int:
    return (
        ProjectionState.objects.filter(name="appointments")
        .values_list("position", flat=True)
        .first()
        or 0
    )


def _hl7_modes(given: str) -> list[str]:
    """`--hl7-modes`, checked: a misspelt mode is refused, not skipped quietly."""
    modes = [mode.strip() for mode in given.split(",") if mode.strip()]
    unknown = sorted(set(modes) - set(HL7_MODES))
    if unknown or not modes:
        raise CommandError(
            f"--hl7-modes takes {' and '.join(HL7_MODES)}, comma-separated; not {given!r}."
        )
    return modes
