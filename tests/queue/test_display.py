"""The waiting-room display: opened by a display link (key kept only as its digest), refused
once revoked, never showing a patient; the managers' screen that makes and revokes links;
the doctor's queue page; Hindi."""

import subprocess
from pathlib import Path

from django.db import connection
from django.test import Client

from apps.clinic.commands import staff_create
from apps.clinic.models import Branch, User
from apps.eventstore.projections import catch_up
from apps.queue import commands
from apps.queue.models import DisplayLink
from apps.scheduling.models import Doctor
from apps.tenants.models import Tenant
from tests.queue.conftest import PASSWORD, CheckIn
from tests.scheduling.factories import PatientFactory

ROOT = Path(__file__).resolve().parents[2]


def host(tenant: Tenant) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.localhost")


def a_link(branch: Branch, language: str = "en") -> tuple[DisplayLink, str]:
    return commands.display_link_create(
        actor=None, branch=branch, name="Waiting hall TV", language=language
    )


def test_the_key_is_kept_only_as_its_digest(main_branch: Branch) -> None:
    link, key = a_link(main_branch)
    secret = key.split(":")[0]

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM queue_displaylink")
        stored = str(cursor.fetchall())
    assert secret not in stored
    assert link.digest in stored
    assert len(secret) >= 43  # 256 random bits


def test_the_display_shows_tokens_doctor_and_room_and_never_the_patient(
    tenant: Tenant, main_branch: Branch, my_doctor: Doctor, doctor_user: User, checked_in: CheckIn
) -> None:
    commands.doctor_room_set(actor=None, doctor=my_doctor, room="4")
    checked_in(my_doctor, 9, patient=PatientFactory(name="Kamala Devi", phone="+919876501234"))
    checked_in(my_doctor, 9, 30)
    commands.queue_call_next(actor=doctor_user, doctor=my_doctor)
    catch_up()
    _, key = a_link(main_branch)

    page = host(tenant).get(f"/queue/branches/{main_branch.pk}/", {"key": key})
    state = host(tenant).get(f"/queue/branches/{main_branch.pk}/state/", {"key": key}).json()

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-field="serving" data-calls="1">1</p>' in html
    assert "Dr. Neha Joshi" in html and "Room" in html
    assert "Kamala" not in html and "9876501234" not in html
    doctor_state = next(d for d in state["doctors"] if d["doctor"] == my_doctor.pk)
    assert doctor_state == {
        "doctor": my_doctor.pk,
        "name": "Dr. Neha Joshi",
        "room": "4",
        "serving": 1,
        "status": "called",
        "calls": 1,
        "waiting": [2],
    }
    assert "Kamala" not in str(state) and "9876501234" not in str(state)


def test_a_wrong_revoked_or_other_branchs_key_is_refused(
    tenant: Tenant, main_branch: Branch
) -> None:
    other = Branch.objects.exclude(pk=main_branch.pk).first() or main_branch
    link, key = a_link(main_branch)
    secret = key.split(":")[0]
    client = host(tenant)

    forged = client.get(f"/queue/branches/{main_branch.pk}/", {"key": f"{secret}:forged"})
    unsigned = client.get(f"/queue/branches/{main_branch.pk}/", {"key": secret})
    nothing = client.get(f"/queue/branches/{main_branch.pk}/")
    commands.display_link_revoke(actor=None, link=link)
    revoked = client.get(f"/queue/branches/{main_branch.pk}/", {"key": key})
    revoked_state = client.get(f"/queue/branches/{main_branch.pk}/state/", {"key": key})
    revoked_stream = client.get(f"/queue/branches/{main_branch.pk}/events/", {"key": key})

    assert [forged.status_code, unsigned.status_code, nothing.status_code] == [403, 403, 403]
    assert revoked.status_code == 403
    assert "not valid or was revoked" in revoked.content.decode()
    assert revoked_state.status_code == 403 and revoked_stream.status_code == 403
    if other != main_branch:
        _, key_here = a_link(main_branch)
        assert client.get(f"/queue/branches/{other.pk}/", {"key": key_here}).status_code == 403


def test_a_hindi_link_shows_the_display_in_hindi(
    tenant: Tenant, main_branch: Branch, my_doctor: Doctor
) -> None:
    _, key = a_link(main_branch, "hi")

    html = host(tenant).get(f"/queue/branches/{main_branch.pk}/", {"key": key}).content.decode()

    assert '<html lang="hi">' in html
    assert "अब सेवा में" in html
    assert "प्रतीक्षा में" in html


def test_a_branch_manager_makes_and_revokes_a_display_link_and_sets_a_room(
    tenant: Tenant, main_branch: Branch, my_doctor: Doctor
) -> None:
    staff_create(
        actor=None,
        name="Branch Boss",
        email="boss@acme.example.com",
        password=PASSWORD,
        role="branch_manager",
        branches=[main_branch],
    )
    console = host(tenant)
    console.login(username="boss@acme.example.com", password=PASSWORD)
    page = f"/reception/branches/{main_branch.pk}/displays/"

    made = console.post(page, {"form": "link", "name": "Hall TV", "language": "hi"})
    link = DisplayLink.objects.get(name="Hall TV")
    url = made.context["created_url"]
    opened = host(tenant).get(
        url.split("localhost", 1)[1].split("?")[0], {"key": url.split("key=")[1]}
    )
    console.post(f"{page}{link.pk}/revoke/")
    roomed = console.post(page, {"form": f"room-{my_doctor.pk}", f"room-{my_doctor.pk}-room": "12"})

    link.refresh_from_db()
    assert made.status_code == 200 and link.language == "hi"
    assert opened.status_code == 200
    assert link.revoked_at is not None
    assert roomed.status_code == 302
    assert my_doctor.room.room == "12"


def test_receptionists_do_not_manage_display_links(tenant: Tenant, main_branch: Branch) -> None:
    staff_create(
        actor=None,
        name="Desk",
        email="desk@acme.example.com",
        password=PASSWORD,
        role="receptionist",
        branches=[main_branch],
    )
    console = host(tenant)
    console.login(username="desk@acme.example.com", password=PASSWORD)

    assert console.get(f"/reception/branches/{main_branch.pk}/displays/").status_code == 403


def test_the_token_slip_shows_the_token_doctor_room_and_time(
    tenant: Tenant, owner: User, my_doctor: Doctor, checked_in: CheckIn
) -> None:
    commands.doctor_room_set(actor=None, doctor=my_doctor, room="4")
    visit = checked_in(my_doctor, 9)
    console = host(tenant)
    console.force_login(owner)

    html = console.get(f"/reception/appointments/{visit.pk}/token/").content.decode()

    assert '<p class="slip-token" id="slip-token" data-testid="slip-token">1</p>' in html
    assert "Dr. Neha Joshi" in html and "<dd>4</dd>" in html and "4 Jan 2027, 09:00" in html


def test_the_doctor_sees_their_queue_in_the_language_they_chose(
    tenant: Tenant, my_doctor: Doctor, checked_in: CheckIn
) -> None:
    checked_in(my_doctor, 9, patient=PatientFactory(name="Kamala Devi"))
    catch_up()
    console = host(tenant)
    console.login(username="neha@acme.example.com", password=PASSWORD)

    landing = console.get("/reception/")
    english = console.get("/console/queue/").content.decode()
    called = console.post("/console/queue/next/", follow=True).content.decode()
    console.post("/account/language/", {"language": "hi", "next": "/console/queue/"})
    hindi = console.get("/console/queue/").content.decode()

    assert landing.status_code == 302 and landing["Location"] == "/console/queue/"
    assert "Call next" in english and "Kamala Devi" in english
    assert "Called token 1." in called
    assert "अगले को बुलाएँ" in hindi and "टोकन" in hindi
    assert User.objects.get(email="neha@acme.example.com").language == "hi"


def test_only_doctors_have_the_queue_page(tenant: Tenant, owner: User) -> None:
    console = host(tenant)
    console.force_login(owner)

    assert console.get("/console/queue/").status_code == 403


def test_the_committed_hindi_catalogue_is_compiled_from_its_source(tmp_path: Path) -> None:
    source = ROOT / "locale/hi/LC_MESSAGES/django.po"
    subprocess.run(  # noqa: S603
        ["/usr/bin/msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(source)],
        check=True,
    )

    assert (tmp_path / "django.mo").read_bytes() == source.with_suffix(".mo").read_bytes()
