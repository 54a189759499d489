"""`make bench`: measures MyMedic on this machine against the real stack and reports it.

Each part creates its own tenant, measures, and drops the tenant again. Results print as a
table and are written as JSON (default artifacts/bench.json).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
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
from django_tenants.utils import schema_context
from tqdm import tqdm

from apps.bench import tenants
from apps.bench.hospital import synthesize_month
from apps.bench.load import Client, Target, celery_worker, closed_loop, paced, post_all, web_server
from apps.bench.measure import summary_ms, timed, wait_for
from apps.clinic import commands as commands_clinic
from apps.clinic import tokens
from apps.clinic.models import Branch, Role, User
from apps.core.db import connection
from apps.eventstore import replay
from apps.eventstore.models import Event, ProjectionState
from apps.reconciliation import reports
from apps.reconciliation.analytics import chain_analytics
from apps.reconciliation.export import export
from apps.reconciliation.warehouse import EmbeddedBackend, TenantWarehouse, backend
from apps.scheduling import commands
from apps.scheduling.models import Doctor, Patient
from apps.scheduling.projections import appointments
from apps.tenants.commands import spare_schemas_top_up, tenant_domain, tenant_onboard
from apps.tenants.models import SpareSchema, Tenant
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
        parser.add_argument("--tenants", type=int, default=2000, help="tenants to grow to")
        parser.add_argument("--tenants-step", type=int, default=100, help="sign-ups per point")
        parser.add_argument("--idle-seconds", type=float, default=60.0)
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
            "--only",
            default="write,http,signup,lag,replay,tenants,month",
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
        if "write" in parts:
            results["write"] = self.bench_write()
        if "http" in parts:
            results["http"] = self.bench_http(options["http_seconds"])
        if "signup" in parts:
            results["signup"] = self.bench_signup(options["signups"])
        if "lag" in parts:
            results["projection_lag"] = self.bench_lag(options["lag_bookings"], options["lag_rate"])
        if "replay" in parts:
            results["replay"] = self.bench_replay(options["replay_events"])
        if "tenants" in parts:
            results["tenants"] = self.bench_tenants(options)
        if "month" in parts:
            results["hospital_month"] = self.bench_month(
                options["month_doctors"], options["month_per_doctor_day"]
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
        worker = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mymedic",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "error",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            stdout=subprocess.DEVNULL,
        )
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

    def print_table(self, results: dict[str, Any]) -> None:
        rows = []
        if write := results.get("write"):
            rows.append(
                (
                    "booking via commands vs INSERT+COMMIT floor",
                    f"{write['booking_command_per_s']}/s vs {write['insert_commit_per_s']}/s "
                    f"= {write['booking_cost_x_floor']}x the floor",
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
        if grown := results.get("tenants"):
            rows.extend(tenant_rows(grown))
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
        if not rows:
            return
        width = max(len(name) for name, _ in rows)
        self.stdout.write("")
        for name, value in rows:
            self.stdout.write(f"{name.ljust(width)}  {value}")


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
