"""The board of a hospital OPD's day in real Chromium: 2,000 doctors and 10,000 visits on one
branch. It filters by doctor, department, status and search with the right rows and counts,
pages, keeps its filters in the URL (back works), ticks waiting times without asking the
server, and shows a check-in made through the API (a real worker projects it) on an open
filtered board within a bound. English and Hindi screenshots:
artifacts/screenshots/board-*.png (not committed).
"""

import http.client
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import Browser, Page, expect

from apps.bench.opdday import patient_name, seed_opd_day
from apps.clinic import tokens
from apps.clinic.commands import staff_language_set
from apps.clinic.models import Branch, User
from apps.scheduling.models import AppointmentView, Doctor
from apps.tenants.models import Tenant
from tests import servers
from tests.browser.chromium import SHOTS, needs_chromium, tenant_site
from tests.browser.desk import PASSWORD, receptionists, sign_in
from tests.browser.test_content_security_policy import WATCH

pytestmark = [pytest.mark.slow, pytest.mark.timing, pytest.mark.timeout(300), needs_chromium]

DOCTORS, VISITS = 2000, 10000
# A check-in through the API reaches the open board (worker, push, re-read) within this;
# measured 0.3–1.5 s on the loaded shared machine (docs/QUEUE.md).
PUSH_BOUND_S = 5.0
STATUSES = ["booked", "checked_in", "completed", "cancelled", "no_show"]


def counts_of(views: list[AppointmentView]) -> dict[str, int]:
    return {**dict.fromkeys(STATUSES, 0), **Counter(v.status for v in views)}


@pytest.fixture(scope="module")
def opd(
    ten_oclock: dict[str, str], committed_tenant: Tenant, django_db_blocker: Any
) -> dict[str, Any]:
    """The day, the desk (English and Hindi), an API token, and what each view must show."""
    with django_db_blocker.unblock(), schema_context(committed_tenant.schema_name):
        branch = Branch.objects.get()
        started = time.monotonic()
        day = seed_opd_day(branch, doctors=DOCTORS, visits=VISITS)
        print(f"seeded {VISITS} visits of {DOCTORS} doctors in {time.monotonic() - started:.1f} s")  # noqa: T201
        receptionists(branch, ["desk@example.com", "hindi.desk@example.com"])
        staff_language_set(actor=User.objects.get(email="hindi.desk@example.com"), language="hi")
        token = tokens.mint(User.objects.get(email="desk@example.com"))
        every = list(AppointmentView.objects.filter(branch_id=branch.pk).order_by("start", "pk"))
        department = day.departments[3]
        in_department = set(
            Doctor.objects.filter(specialty=department).values_list("pk", flat=True)
        )
        soon = timezone.now() + timedelta(minutes=90)
        due = [v for v in every if v.doctor_id in in_department and v.status == "booked"]
        due = [v for v in due if v.start <= soon]
        arrivals = due[-3:]
        doctor = arrivals[0].doctor_id
        name_owner = every[4321].patient_id
        # The seeded patients were named in the order of their ids.
        name = patient_name(sorted({v.patient_id for v in every}).index(name_owner))
        unchanged = [
            d
            for d in Doctor.objects.filter(specialty=department).order_by("name", "pk")
            if d.pk not in {v.doctor_id for v in arrivals}
        ][0]
        theirs = [v for v in every if v.doctor_id == unchanged.pk]
        return {
            "branch": branch.pk,
            "token": token,
            "department": department,
            "doctor": doctor,
            "doctor_name": Doctor.objects.get(pk=doctor).name,
            "arrivals": [v.appointment_id for v in arrivals],
            "all_counts": counts_of(every),
            "page_two": [v.appointment_id for v in every[50:100]],
            "department_counts": counts_of([v for v in every if v.doctor_id in in_department]),
            "department_checked_in": sum(
                1 for v in every if v.doctor_id in in_department and v.status == "checked_in"
            ),
            "doctor_rows": [v.appointment_id for v in every if v.doctor_id == doctor],
            "doctor_counts": counts_of([v for v in every if v.doctor_id == doctor]),
            "name": name,
            "name_visits": [v.appointment_id for v in every if v.patient_id == name_owner],
            "unchanged_doctor": unchanged.pk,
            "unchanged_numbers": {
                "booked": str(sum(1 for v in theirs if v.status == "booked")),
                "checked_in": str(sum(1 for v in theirs if v.status == "checked_in")),
                "done": str(sum(1 for v in theirs if v.status == "completed")),
            },
        }


@pytest.fixture(scope="module")
def site(
    committed_tenant: Tenant,
    opd: dict[str, Any],
    ten_oclock: dict[str, str],
    django_db_blocker: Any,
) -> Iterator[tuple[Browser, str]]:
    with (
        django_db_blocker.unblock(),
        servers.celery_worker(**ten_oclock),
        tenant_site(committed_tenant, django_db_blocker, **ten_oclock) as browser_and_base,
    ):
        yield browser_and_base


def watched(chromium: Browser, width: int = 1440, height: int = 900) -> Page:
    page = chromium.new_context(viewport={"width": width, "height": height}).new_page()
    page.add_init_script(WATCH)
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"board-{name}.png"), full_page=False)


def counts(page: Page) -> dict[str, int]:
    cells = page.get_by_test_id("counts").locator("dd[data-status]")
    return {str(cell.get_attribute("data-status")): int(cell.inner_text()) for cell in cells.all()}


def rows(page: Page) -> list[int]:
    found = page.locator("[data-testid=queue] tbody tr[data-appointment]")
    return [int(str(row.get_attribute("data-appointment"))) for row in found.all()]


def shows_total(page: Page, total: int) -> None:
    """Waits until the page says how many visits (or doctors) its filters leave."""
    expect(page.get_by_test_id("range")).to_have_attribute("data-total", str(total))


def check_in_through_the_api(base: str, token: str, visit: int) -> float:
    """POSTs the check-in as the doctor app or another desk would; returns when it was sent."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    sent = time.monotonic()
    connection.request(
        "POST",
        f"/api/v1/appointments/{visit}/check-in/",
        headers={"Host": host, "Authorization": f"Token {token}", "Content-Length": "0"},
    )
    answer = connection.getresponse()
    assert answer.status == 200, answer.read()
    connection.close()
    return sent


def timed(work: Any, check: Any) -> float:
    started = time.monotonic()
    work()
    check()
    return time.monotonic() - started


def test_a_day_of_ten_thousand_visits_filters_pages_and_follows_api_check_ins(
    site: tuple[Browser, str], opd: dict[str, Any]
) -> None:
    chromium, base = site
    board_url = f"{base}/reception/branches/{opd['branch']}/"
    desk = watched(chromium)
    sign_in(desk, base, "desk@example.com")
    figures: dict[str, float] = {}

    # First render of the whole day: one page of 50 and the counts of all 10,000.
    figures["first render"] = timed(
        lambda: desk.goto(board_url),
        lambda: shows_total(desk, VISITS),
    )
    assert len(rows(desk)) == 50
    assert counts(desk) == opd["all_counts"]
    expect(desk.get_by_test_id("as-of")).to_have_text(re.compile(r"updated \d\d:\d\d:\d\d"))

    # Paging: the next 50, and the URL says so.
    desk.get_by_role("link", name="Next →").first.click()
    expect(desk.get_by_test_id("page-of")).to_have_text(f"Page 2 of {VISITS // 50}")
    assert rows(desk) == opd["page_two"] and "page=2" in desk.url

    # Department, then status: rows and counts follow; each is a URL.
    figures["filter by department"] = timed(
        lambda: desk.get_by_label("Department", exact=True).select_option(opd["department"]),
        lambda: shows_total(desk, sum(opd["department_counts"].values())),
    )
    assert counts(desk) == opd["department_counts"]
    figures["filter by status"] = timed(
        lambda: desk.get_by_label("Status", exact=True).select_option("checked_in"),
        lambda: shows_total(desk, opd["department_checked_in"]),
    )
    assert counts(desk) == opd["department_counts"]
    assert "status=checked_in" in desk.url and "department=" in desk.url
    statuses = desk.locator("[data-testid=queue] tbody tr[data-appointment]")
    assert {r.get_attribute("data-status") for r in statuses.all()} == {"checked_in"}
    expect(desk.get_by_test_id("waiting").first).to_have_text(re.compile(r"\d+ min"))
    desk.evaluate("window.scrollTo(0, 0)")
    shot(desk, "filtered-en")

    # Back: the department alone again (reloaded from its URL).
    desk.go_back()
    expect(desk.get_by_label("Status", exact=True)).to_have_value("")
    shows_total(desk, sum(opd["department_counts"].values()))
    expect(desk.get_by_label("Department", exact=True)).to_have_value(opd["department"])

    # One doctor of the department: their five visits, their counts.
    figures["filter by doctor"] = timed(
        lambda: desk.get_by_label("Doctor", exact=True).select_option(str(opd["doctor"])),
        lambda: shows_total(desk, len(opd["doctor_rows"])),
    )
    assert rows(desk) == opd["doctor_rows"] and counts(desk) == opd["doctor_counts"]

    # A name among 10,000 sealed patients, typed into the search box of the whole day.
    desk.goto(board_url)
    figures["search by name"] = timed(
        lambda: desk.get_by_label("Search", exact=True).fill(opd["name"]),
        lambda: shows_total(desk, len(opd["name_visits"])),
    )
    assert rows(desk) == opd["name_visits"]
    expect(desk.get_by_role("link", name=opd["name"], exact=True)).to_be_visible()
    assert opd["name"].split()[0] not in desk.url  # a name never goes into the address bar

    # Check-ins made elsewhere (the API), seen on open filtered boards: a row that changes,
    # a row that appears.
    first, second, third = opd["arrivals"]
    desk.goto(f"{board_url}?doctor={opd['doctor']}")
    sent = check_in_through_the_api(base, opd["token"], first)
    expect(desk.locator(f"tr[data-appointment='{first}']")).to_have_attribute(
        "data-status", "checked_in", timeout=30000
    )
    figures["push to screen (first, start-up)"] = time.monotonic() - sent
    appear = f"{board_url}?department={opd['department']}&status=checked_in&q={second}"
    desk.goto(appear)
    expect(desk.get_by_test_id("range")).to_have_text("No visits match.")
    sent = check_in_through_the_api(base, opd["token"], second)
    expect(desk.locator(f"tr[data-appointment='{second}']")).to_be_visible(timeout=30000)
    figures["push to screen (row appears)"] = time.monotonic() - sent
    expect(desk.get_by_test_id("counts").locator("dd[data-status=checked_in]")).to_have_text("1")
    desk.goto(f"{board_url}?status=booked&q={third}")
    expect(desk.locator(f"tr[data-appointment='{third}']")).to_be_visible()
    sent = check_in_through_the_api(base, opd["token"], third)
    expect(desk.locator(f"tr[data-appointment='{third}']")).to_have_count(0, timeout=30000)
    figures["push to screen (row leaves)"] = time.monotonic() - sent
    assert "status=booked" in desk.url

    for what, seconds in figures.items():
        print(f"{what}: {seconds * 1000:.0f} ms")  # noqa: T201
    assert figures["push to screen (row appears)"] < PUSH_BOUND_S
    assert figures["push to screen (row leaves)"] < PUSH_BOUND_S
    assert desk.evaluate("window.__violations") == []


def test_waiting_times_tick_on_the_screen_without_asking_the_server(
    site: tuple[Browser, str], opd: dict[str, Any]
) -> None:
    chromium, base = site
    desk = watched(chromium)
    desk.clock.install()
    sign_in(desk, base, "desk@example.com")
    desk.goto(f"{base}/reception/branches/{opd['branch']}/?status=checked_in")
    minutes = desk.locator("[data-waiting-since] [data-minutes]").first
    before = int(minutes.inner_text())
    asked: list[str] = []
    desk.on("request", lambda request: asked.append(request.url))

    desk.clock.fast_forward("03:00")

    expect(minutes).to_have_text(str(before + 3))
    assert [url for url in asked if "/reception/" in url] == []


def test_the_doctors_summary_and_the_hindi_board(
    site: tuple[Browser, str], opd: dict[str, Any]
) -> None:
    chromium, base = site
    desk = watched(chromium)
    sign_in(desk, base, "desk@example.com")
    desk.goto(f"{base}/reception/branches/{opd['branch']}/doctors/")
    shows_total(desk, DOCTORS)
    desk.get_by_label("Department", exact=True).select_option(opd["department"])
    shows_total(desk, DOCTORS // 20)
    assert "department=" in desk.url
    doctor = desk.locator(f"tr[data-doctor='{opd['unchanged_doctor']}']")
    for field, number in opd["unchanged_numbers"].items():
        expect(doctor.locator(f"[data-field={field}]")).to_have_text(number)
    shot(desk, "doctors-en")

    hindi = watched(chromium)
    hindi.goto(f"{base}/login/")
    hindi.get_by_label("Email").fill("hindi.desk@example.com")
    hindi.get_by_label("Password").fill(PASSWORD)
    hindi.get_by_role("button", name="Sign in").click()
    expect(hindi.get_by_role("heading", name="आज", exact=False)).to_be_visible()
    hindi.get_by_label("विभाग", exact=True).select_option(opd["department"])
    shows_total(hindi, sum(opd["department_counts"].values()))
    hindi.get_by_label("स्थिति", exact=True).select_option("cancelled")
    cancelled = opd["department_counts"]["cancelled"]
    expect(hindi.get_by_test_id("range")).to_contain_text(f"{cancelled} में से विज़िट")
    expect(hindi.get_by_text("अद्यतन", exact=False)).to_be_visible()
    expect(hindi).to_have_url(re.compile(r"[?&]status=cancelled(&|$)"))
    hindi.evaluate("window.scrollTo(0, 0)")
    shot(hindi, "filtered-hi")
    hindi.goto(f"{base}/reception/branches/{opd['branch']}/doctors/?department={opd['department']}")
    expect(hindi.get_by_role("columnheader", name="अब सेवा में")).to_be_visible()
    shot(hindi, "doctors-hi")
    assert desk.evaluate("window.__violations") == [] == hindi.evaluate("window.__violations")
