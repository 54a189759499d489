"""Staff invitations (set a password, land in the console) and password reset by email."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.clinic.models import Branch, Role, User
from apps.clinic.signin import RESET_EMAILS_PER_WINDOW
from apps.tenants.models import Tenant
from tests.clinic.factories import STAFF_PASSWORD, UserFactory
from tests.conftest import HostClient, client_for

# Invitation and reset emails leave from Celery tasks: run them here.
pytestmark = pytest.mark.usefixtures("celery_in_process")

NEW_PASSWORD = "a-fresh-pass-phrase-7"
Commits = Callable[..., Any]


def _link(message: mail.EmailMessage) -> str:
    found = re.search(r"http://acme\.localhost(/\S+/)", str(message.body))
    assert found, message.body
    return found.group(1)


def _invite(owner_web: HostClient, branch: Branch, commits: Commits, **extra: Any) -> Any:
    form = {
        "name": "Meena Desk",
        "email": "Meena@Acme.example.com",
        "role": "receptionist",
        "branches": [branch.pk],
        **extra,
    }
    with commits(execute=True):
        return owner_web.post("/setup/staff/", form)


def test_an_invitation_emails_a_link_that_sets_the_password_and_opens_the_console(
    owner_web: HostClient,
    main_branch: Branch,
    django_capture_on_commit_callbacks: Commits,
) -> None:
    response = _invite(owner_web, main_branch, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    invited = User.objects.get(email="meena@acme.example.com")
    assert not invited.has_usable_password() and list(invited.branches.all()) == [main_branch]
    assert AuditEntry.objects.filter(action="staff.invited", target=f"user:{invited.pk}").exists()
    assert [m.to for m in mail.outbox] == [["meena@acme.example.com"]]
    assert "Invited" in owner_web.get("/setup/staff/").content.decode()

    guest = HostClient("acme.localhost")
    form_page = guest.get(_link(mail.outbox[0]), follow=True)
    assert "Welcome, Meena Desk" in form_page.content.decode()
    landed = guest.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert landed.redirect_chain[-1][0] == f"/reception/branches/{main_branch.pk}/"
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="staff.invitation_accepted").exists()
    assert guest.get(_link(mail.outbox[0]), follow=True).context["validlink"] is False


def test_an_invitation_can_be_sent_again_until_it_is_used(
    owner_web: HostClient,
    main_branch: Branch,
    django_capture_on_commit_callbacks: Commits,
) -> None:
    _invite(owner_web, main_branch, django_capture_on_commit_callbacks)
    invited = User.objects.get(email="meena@acme.example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_web.post(f"/setup/staff/{invited.pk}/resend/")

    assert response.status_code == 302 and len(mail.outbox) == 2
    assert AuditEntry.objects.filter(action="staff.invitation_resent").exists()

    active = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch])
    with django_capture_on_commit_callbacks(execute=True):
        owner_web.post(f"/setup/staff/{active.pk}/resend/")
    assert len(mail.outbox) == 2


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"email": "owner@acme.example.com"}, "email", "already exists"),
        ({"branches": []}, "branches", "Choose at least one branch"),
        ({"branches": ["999999"]}, "branches", "Select a valid choice."),
        ({"role": "owner"}, "role", "Select a valid choice."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_bad_invitations_are_shown_next_to_their_field(
    owner_web: HostClient,
    main_branch: Branch,
    django_capture_on_commit_callbacks: Commits,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = _invite(owner_web, main_branch, django_capture_on_commit_callbacks, **change)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not mail.outbox


def test_a_manager_is_invited_without_branches(
    owner_web: HostClient, main_branch: Branch, django_capture_on_commit_callbacks: Commits
) -> None:
    response = _invite(
        owner_web, main_branch, django_capture_on_commit_callbacks, role="manager", branches=[]
    )

    assert response.status_code == 302
    assert User.objects.get(email="meena@acme.example.com").role == Role.MANAGER


def test_a_staff_member_of_another_clinic_cannot_be_re_invited(
    owner_web: HostClient, other_tenant: Tenant
) -> None:
    with schema_context(other_tenant.schema_name):
        theirs = UserFactory(role=Role.MANAGER)

    response = owner_web.post(f"/setup/staff/{theirs.pk + 1000}/resend/")

    assert response.status_code == 404


# --- password reset ----------------------------------------------------------------------


def test_the_login_page_links_to_password_reset(api: HostClient) -> None:
    html = api.get("/login/").content.decode()

    assert 'href="/password-reset/"' in html and "Forgot password?" in html


def test_a_forgotten_password_is_reset_through_an_emailed_link(
    api: HostClient, main_branch: Branch
) -> None:
    staff = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")

    sent = api.post("/password-reset/", {"email": "DESK@acme.example"}, follow=True)

    assert sent.redirect_chain[-1][0] == "/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["desk@acme.example"]
    page = api.get(_link(mail.outbox[0]), follow=True)
    assert page.context["validlink"] is True
    done = api.post(
        page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/password-reset/done/"
    staff.refresh_from_db()
    assert staff.check_password(NEW_PASSWORD) and not staff.check_password(STAFF_PASSWORD)
    assert api.get(_link(mail.outbox[0]), follow=True).context["validlink"] is False


def test_password_reset_does_not_tell_who_is_staff(api: HostClient, main_branch: Branch) -> None:
    UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")

    known = api.post("/password-reset/", {"email": "desk@acme.example"}, follow=True)
    unknown = api.post("/password-reset/", {"email": "nobody@acme.example"}, follow=True)

    assert known.redirect_chain == unknown.redirect_chain
    assert known.content == unknown.content
    assert len(mail.outbox) == 1


def test_a_reset_link_of_another_clinic_does_not_work_here(
    api: HostClient, other_tenant: Tenant
) -> None:
    other = HostClient(f"{other_tenant.slug}.localhost")
    other.post("/password-reset/", {"email": f"owner@{other_tenant.slug}.example.com"})
    assert len(mail.outbox) == 1
    path = re.search(r"http://globex\.localhost(/\S+/)", str(mail.outbox[0].body))
    assert path

    page = api.get(path.group(1), follow=True)

    assert page.context["validlink"] is False


def test_reset_emails_are_limited_without_saying_so(api: HostClient, main_branch: Branch) -> None:
    UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")

    answers = [
        api.post("/password-reset/", {"email": "desk@acme.example"}).status_code
        for _ in range(RESET_EMAILS_PER_WINDOW + 2)
    ]

    assert answers == [302] * (RESET_EMAILS_PER_WINDOW + 2)
    assert len(mail.outbox) == RESET_EMAILS_PER_WINDOW


def test_a_reset_password_lifts_the_sign_in_lock_and_is_audited(
    api: HostClient, main_branch: Branch
) -> None:
    staff = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")
    for _ in range(5):
        api.post("/login/", {"username": "desk@acme.example", "password": "wrong-guess-00"})
    api.post("/password-reset/", {"email": "desk@acme.example"})
    page = api.get(_link(mail.outbox[0]), follow=True)
    api.post(
        page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    signed_in = HostClient("acme.localhost", REMOTE_ADDR="10.0.0.9").post(
        "/login/", {"username": "desk@acme.example", "password": NEW_PASSWORD}
    )

    assert signed_in.status_code == 302
    assert AuditEntry.objects.filter(action="password.reset", target=f"user:{staff.pk}").exists()


def test_a_bad_reset_email_is_a_form_error(api: HostClient) -> None:
    response = api.post("/password-reset/", {"email": "not an email"})

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Enter a valid email address."]
    assert not mail.outbox


# --- unknown clinic address --------------------------------------------------------------


def test_an_unknown_clinic_address_answers_a_page_that_links_to_the_public_site(
    db: None,
) -> None:
    response = HostClient("acmee.localhost:8000").get("/login/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "No clinic at this address" in html and 'href="http://localhost:8000/"' in html
    assert response["Content-Type"].startswith("text/html")


def test_an_unknown_clinic_address_answers_json_on_the_api(db: None) -> None:
    response = HostClient("acmee.localhost").get("/api/v1/doctors/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No clinic at this address."}


def test_a_password_reset_by_email_ends_every_token_of_the_old_password(
    api: HostClient, tenant: Tenant, main_branch: Branch
) -> None:
    staff = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="phone@acme.example")
    app = client_for(staff, tenant)
    assert app.get("/api/v1/auth/me/").status_code == 200

    api.post("/password-reset/", {"email": "phone@acme.example"})
    page = api.get(_link(mail.outbox[0]), follow=True)
    api.post(
        page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert app.get("/api/v1/auth/me/").status_code == 401
