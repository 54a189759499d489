"""The `board` part of `make bench`: the front desk's board of a hospital OPD's day in real
Chromium (Playwright), against daphne and a Celery worker on this machine's database.

A branch gets `doctors` doctors in 20 departments and `visits` visits today
(`apps.bench.opdday`, seconds). Then, `runs` times each: the first render of the board (a
full page load until its page of rows and the day's counts are on screen), a filter (choosing a
department, then a status, in the open page until the rows and counts follow), a search by a
patient's name (asking the name index, `apps.scheduling.names`; also timed in-process, the
board's selector alone, without the browser and the page's 400 ms pause), and
push-to-screen: a check-in POSTed to the API, from the request until the open board, filtered
to that visit, shows it checked in (the worker's projection run, the live push and the page's
re-read included).
"""

import http.client
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.bench.load import celery_worker, web_server
from apps.bench.measure import summary_ms
from apps.bench.opdday import patient_name, seed_opd_day
from apps.board.selectors import BoardFilter, board_page
from apps.clinic import tokens
from apps.clinic.commands import staff_create
from apps.clinic.models import Branch
from apps.scheduling.models import AppointmentView
from apps.tenants.commands import tenant_domain
from apps.tenants.models import Tenant

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "bench-desk-password-1"  # noqa: S105  (a throw-away tenant)


def _check_in(port: int, host: str, token: str, visit: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = time.monotonic()
    connection.request(
        "POST",
        f"/api/v1/appointments/{visit}/check-in/",
        headers={"Host": host, "Authorization": f"Token {token}", "Content-Length": "0"},
    )
    status = connection.getresponse().status
    connection.close()
    if status != 200:
        raise RuntimeError(f"check-in of {visit} answered {status}")
    return sent


def _seconds(work: Callable[[], object]) -> float:
    started = time.monotonic()
    work()
    return time.monotonic() - started


def bench_board(
    make_tenant: Callable[[str], Tenant],
    drop_tenant: Callable[[Tenant], None],
    *,
    doctors: int,
    visits: int,
    runs: int,
    progress: Any,
) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright  # a development tool only

    tenant = make_tenant("hospital")
    try:
        with schema_context(tenant.schema_name):
            branch = Branch.objects.get()
            started = time.monotonic()
            day = seed_opd_day(branch, doctors=doctors, visits=visits)
            seeded = time.monotonic() - started
            progress.write(f"board: seeded {visits} visits of {doctors} doctors in {seeded:.1f} s")
            with transaction.atomic():
                desk = staff_create(
                    actor=None,
                    name="Bench Desk",
                    email=f"desk@{tenant.slug}.example.com",
                    password=PASSWORD,
                    role="receptionist",
                    branches=[branch],
                )
            token = tokens.mint(desk)
            soon = timezone.now() + timedelta(minutes=100)
            due = list(
                AppointmentView.objects.filter(
                    branch_id=branch.pk, date=day.day, status="booked", start__lte=soon
                )
                .order_by("-start")
                .values_list("appointment_id", flat=True)[:runs]
            )
            patients = sorted(
                AppointmentView.objects.filter(branch_id=branch.pk, date=day.day).values_list(
                    "patient_id", flat=True
                )
            )
        names = [patient_name((n * 997) % len(patients)) for n in range(runs)]
        host = tenant_domain(tenant.slug)
        figures: dict[str, list[float]] = {
            "first_render": [],
            "filter": [],
            "name_search": [],
            "name_search_server": [],
            "push_to_screen": [],
        }
        with schema_context(tenant.schema_name):
            for name in names:
                started = time.monotonic()
                found = board_page(branch, day.day, BoardFilter(search=name))
                figures["name_search_server"].append(time.monotonic() - started)
                if not found["rows"]:
                    raise RuntimeError("the board's name search found nobody")
        with web_server() as (_, port), celery_worker(), sync_playwright() as play:
            chromium = play.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = chromium.new_page(viewport={"width": 1440, "height": 900})
                base = f"http://{host}:{port}"
                board = f"{base}/reception/branches/{branch.pk}/"
                page.goto(f"{base}/login/")
                page.get_by_label("Email").fill(desk.email)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(board)
                shown = page.get_by_test_id("range")

                def first_render() -> None:
                    page.goto(board)
                    expect(shown).to_have_attribute("data-total", str(visits))

                def choose(department: str) -> None:
                    page.get_by_label("Department", exact=True).select_option(department)
                    expect(shown).not_to_have_attribute("data-total", str(visits))

                def search(name: str) -> None:
                    page.get_by_label("Search", exact=True).fill(name)
                    found = page.get_by_role("link", name=name, exact=True)
                    expect(found).to_be_visible(timeout=60000)

                for n in range(runs):
                    figures["first_render"].append(_seconds(first_render))
                    department = day.departments[n % len(day.departments)]
                    figures["filter"].append(_seconds(partial(choose, department)))
                    page.goto(board)
                    figures["name_search"].append(_seconds(partial(search, names[n])))
                for visit in due:
                    page.goto(f"{board}?q={visit}")
                    row = page.locator(f"tr[data-appointment='{visit}']")
                    expect(row).to_have_attribute("data-status", "booked")
                    sent = _check_in(port, host, token, visit)
                    expect(row).to_have_attribute("data-status", "checked_in", timeout=30000)
                    figures["push_to_screen"].append(time.monotonic() - sent)
                    progress.write(f"board: pushed to screen in {time.monotonic() - sent:.2f} s")
            finally:
                chromium.close()
    finally:
        drop_tenant(tenant)
    return {
        "doctors": doctors,
        "visits": visits,
        "seed_s": round(seeded, 1),
        **{name: summary_ms(samples) for name, samples in figures.items() if samples},
    }


def board_rows(result: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not result:
        return []
    head = f"Board of {result['visits']} visits, {result['doctors']} doctors (Chromium)"
    rows = [(f"{head}: seeded", f"{result['seed_s']} s")]
    for key, label in (
        ("first_render", "first render"),
        ("filter", "filter by department"),
        ("name_search", "search by name"),
        ("name_search_server", "search by name, the selector in-process"),
        ("push_to_screen", "API check-in → on screen"),
    ):
        if key in result:
            figures = result[key]
            rows.append(
                (f"{head}: {label}", f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms")
            )
    return rows
