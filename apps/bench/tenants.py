"""The tenants benchmark: many tenants in one database, in a database of its own.

`bench --only tenants` makes a bench database beside the app's, migrates it, and runs the
measurement there in a child process (so the thousands of tenants never land in the app's
database), then drops it. The child grows the database to N tenants a hundred at a time —
filling the spare pool, then signing up through `tenant_onboard` — and measures sign-up
time and disk per hundred, how long each way of making a spare takes at the start and at
the end, request latency with one tenant and spread over all, and the CPU that the Procfile's
worker, jobs worker and beat use while every tenant is idle.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from psycopg import sql
from tqdm import tqdm

from apps.bench.measure import summary_ms, timed
from apps.core.db import connection
from apps.tenants import backups, spares
from apps.tenants.commands import spare_schemas_top_up
from apps.tenants.models import SpareSchema, Tenant

Say = Callable[[str], None]


def in_bench_database(count: int, step: int, idle_seconds: float, keep: bool, say: Say) -> Any:
    """Runs the measurement in a fresh database `<app database>_bench_tenants`; returns its
    results (also written, hundred by hundred, to a JSON file while it runs)."""
    name = f"{connection.settings_dict['NAME']}_bench_tenants"
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}"
    with backups.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    out = Path(settings.BASE_DIR) / "artifacts" / "bench-tenants.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    say(f"tenants: measuring in database {name}; partial results in {out}")
    child = [
        *(sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench"),
        *("--only", "tenants", "--tenants", str(count), "--tenants-step", str(step)),
        *("--idle-seconds", str(idle_seconds), "--in-bench-database"),
        *("--tenants-json", str(out), "--json", os.devnull),
    ]
    # Sign-ups in the child would wake top-ups for the app's target; the bench fills itself.
    env = {**os.environ, "DATABASE_URL": url, "MYMEDIC_SPARE_SCHEMAS": "0"}
    try:
        subprocess.run(child, env=env, check=True)  # noqa: S603  (our own interpreter)
    finally:
        if not keep:
            drop_database(name)
    return json.loads(out.read_text())


def drop_database(name: str) -> None:
    with backups.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        (size,) = cursor.fetchone()
    return int(size)


def schema_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace")
        (count,) = cursor.fetchone()
    return int(count)


def spare_methods(times: int = 3) -> dict[str, Any]:
    """Makes `times` spares each way, times them, drops them again; and the template's dump."""
    spares._recipes.clear()
    with timed() as dump:
        spares.recipe()
    result: dict[str, Any] = {"schemas": schema_count(), "template_dump_s": round(dump.seconds, 3)}
    for method in SpareSchema.Method.values:
        made = [spares.make(method) for _ in range(times)]
        result[method] = summary_ms([spare.seconds for spare in made])
        for spare in made:
            spares.drop(spare)
    return result


# --- idle CPU of the Procfile's background processes ----------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BACKGROUND = ("worker", "jobs", "beat")


def procfile_commands() -> dict[str, str]:
    text = (Path(settings.BASE_DIR) / "Procfile").read_text()
    found = dict(re.findall(r"^(\w+):\s*(.*)$", text, re.MULTILINE))
    return {name: found[name] for name in BACKGROUND}


def session_cpu_seconds(session: int) -> float:
    """CPU time (user + system, own and reaped children's) of every process in `session`."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == session:  # fields after the name: state, ppid, pgrp, session, …
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


@contextmanager
def background_processes(folder: Path) -> Iterator[dict[str, int]]:
    """The Procfile's worker, jobs and beat, each in a session of its own; stopped (SIGTERM,
    then SIGKILL) by their session ids however the block ends."""
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "MYMEDIC_DEBUG": "0",
           "MYMEDIC_LOCAL_DIR": str(folder)}  # fmt: skip
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in procfile_commands().items():
            started[name] = subprocess.Popen(  # noqa: S603  (the project's own Procfile)
                ["/bin/bash", "-c", f"exec {command}"],
                env=env,
                cwd=settings.BASE_DIR,
                stdout=subprocess.DEVNULL,
                stderr=(folder / f"{name}.log").open("wb"),
                start_new_session=True,
            )
        yield {name: process.pid for name, process in started.items()}
    finally:
        for process in started.values():
            stop_session(process)


def stop_session(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


def queued_messages() -> int:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queues = [queue.name for queue in settings.CELERY_TASK_QUEUES]
    lengths = [int(broker.llen(queue)) for queue in queues]  # type: ignore[arg-type]
    return sum(lengths) + int(broker.hlen("unacked"))  # type: ignore[arg-type]


def idle_cpu(seconds: float, say: Say, settle_max: float = 1200.0) -> dict[str, Any]:
    """Starts the background processes, waits until they have caught up (every queue empty
    for 10 s, at least one sweep period after start), then measures their CPU for `seconds`."""
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as work:
        folder = Path(work)
        started = time.monotonic()
        with background_processes(folder) as sessions:
            say("idle: waiting for the worker, jobs and beat to catch up…")
            quiet_since: float | None = None
            while time.monotonic() - started < settle_max:
                time.sleep(1)
                if queued_messages():
                    quiet_since = None
                    continue
                quiet_since = quiet_since or time.monotonic()
                caught_up = time.monotonic() - quiet_since >= 10
                if caught_up and time.monotonic() - started >= 45:
                    break
            settled = time.monotonic() - started
            say(f"idle: caught up after {settled:.0f} s; measuring {seconds:.0f} s")
            before = {name: session_cpu_seconds(pid) for name, pid in sessions.items()}
            with timed() as window:
                time.sleep(seconds)
            after = {name: session_cpu_seconds(pid) for name, pid in sessions.items()}
            logs = {name: (folder / f"{name}.log").read_text(errors="replace") for name in sessions}
    per_process = {
        name: round(100 * (after[name] - before[name]) / window.seconds, 2) for name in sessions
    }
    return {
        "seconds": round(window.seconds, 1),
        "settle_s": round(settled, 1),
        "cpu_percent_of_one_core": per_process,
        "total_cpu_percent_of_one_core": round(sum(per_process.values()), 2),
        "beat_sent": len(re.findall(r"Sending due task", logs["beat"])),
        # A job that visited a padded tenant (no schema) fails: it shows here.
        "log_errors": {
            name: len(re.findall(r"\b(ERROR|CRITICAL)\b", log)) for name, log in logs.items()
        },
    }


PAD_PREFIX = "idle_pad_"


def pad_tenants(total: int, say: Say, batch: int = 1000) -> int:
    """Pads the directory to `total` tenants with idle ones, cheaply: copies of an existing
    idle tenant's public rows (tenant, domain, subscription, periodic-work positions) whose
    schemas are never made. What an idle tenant costs the background is what beat's queries
    over those rows cost; a job that visited a padded tenant's schema would fail, and the
    error would show in `idle_cpu`'s `log_errors`. Returns how many were added."""
    from apps.directory.models import TenantLocation
    from apps.plans.models import Subscription
    from apps.tenants.models import Domain, TenantWork

    model = (
        Tenant.objects.exclude(schema_name__in=["public", settings.TENANT_BASE_SCHEMA])
        .exclude(schema_name__startswith=PAD_PREFIX)
        .order_by("-created")
        .first()
    )
    if model is None:
        raise RuntimeError("no tenant to copy: sign one up first")
    have = Tenant.objects.exclude(schema_name="public").count()
    work = list(TenantWork.objects.filter(tenant=model))
    subscription = Subscription.objects.filter(tenant=model).first()
    suffix = model.domains.get(is_primary=True).domain.split(".", 1)[1]
    location = TenantLocation.objects.get(slug=model.slug)
    added = 0
    with tqdm(total=max(0, total - have), desc=f"padding to {total}") as bar:
        while have + added < total:
            count = min(batch, total - have - added)
            names = [f"{PAD_PREFIX}{have + added + n:06d}" for n in range(count)]
            made = Tenant.objects.bulk_create(  # bulk: no save(), so no schema
                Tenant(schema_name=name, slug=name.replace("_", "-"), name="Idle clinic",
                       kind=model.kind, region=model.region, verified_at=model.verified_at)
                for name in names
            )  # fmt: skip
            Domain.objects.bulk_create(
                Domain(tenant=t, domain=f"{t.slug}.{suffix}", is_primary=True) for t in made
            )
            TenantLocation.objects.bulk_create(
                TenantLocation(slug=t.slug, region=location.region, cell=location.cell,
                               hosts=[f"{t.slug}.{suffix}"])
                for t in made
            )  # fmt: skip
            TenantWork.objects.bulk_create(
                TenantWork(tenant=t, job=w.job, position=w.position, due_at=w.due_at)
                for t in made
                for w in work
            )
            if subscription is not None:
                Subscription.objects.bulk_create(
                    Subscription(
                        tenant=t, plan_id=subscription.plan_id, status=subscription.status,
                        started_at=subscription.started_at, changed_at=subscription.changed_at,
                        trial_ends_at=subscription.trial_ends_at, due_at=subscription.due_at,
                    )
                    for t in made
                )  # fmt: skip
            added += count
            bar.update(count)
    say(f"padded with {added} idle tenants (no schemas), copied from {model.slug}")
    return added


def unpad_tenants() -> None:
    from apps.directory.models import TenantLocation

    pads = Tenant.objects.filter(schema_name__startswith=PAD_PREFIX)
    TenantLocation.objects.filter(slug__in=list(pads.values_list("slug", flat=True))).delete()
    pads.delete()


def grow(
    count: int,
    step: int,
    make_tenant: Callable[[], Tenant],
    on_tenant: Callable[[Tenant], None],
    save: Callable[[list[dict[str, Any]]], None],
    stderr: Any,
    curve: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Grows the database to `count` tenants `step` at a time: fills the pool with `step`
    spares, then signs up `step` tenants (each claims one); one point per step, added to
    `curve` (a resumed run's)."""
    curve = [] if curve is None else curve
    have = Tenant.objects.exclude(schema_name="public").count()
    while have < count:
        batch = min(step, count - have)
        size_before = database_bytes()
        with (
            tqdm(total=batch, desc=f"spares to {have + batch}", file=stderr) as bar,
            timed() as fill,
        ):
            spare_schemas_top_up(actor=None, target=batch, progress=bar.update)
        size_spares = database_bytes()
        samples = []
        for _ in tqdm(range(batch), desc=f"sign-ups to {have + batch}", file=stderr):
            with timed() as signup:
                tenant = make_tenant()
            samples.append(signup.seconds)
            on_tenant(tenant)
        have += batch
        size_after = database_bytes()
        curve.append(
            {
                "tenants": have,
                "spare_make_s_mean": round(fill.seconds / batch, 3),
                "signup": summary_ms(samples),
                "disk_mb_per_tenant": round((size_after - size_before) / batch / 1e6, 3),
                "disk_mb_per_spare": round((size_spares - size_before) / batch / 1e6, 3),
                "database_mb": round(size_after / 1e6, 1),
            }
        )
        save(curve)
    return curve
