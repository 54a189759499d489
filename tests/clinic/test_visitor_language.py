"""The signed-out pages (sign-in, password reset, sign-up) in the visitor's language: what the
browser asks for first, or the "English | हिन्दी" choice on the page (a cookie); a signed-in
member's own choice still wins, and the API stays English."""

import re
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from apps.clinic.models import Branch, Role, User
from apps.tenants.models import Tenant
from tests.clinic.factories import UserFactory
from tests.conftest import HostClient
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.usefixtures("celery_in_process")

HINDI = "hi-IN,hi;q=0.9,en;q=0.8"
COOKIE = settings.LANGUAGE_COOKIE_NAME
SIGNUP = {
    "clinic_name": "Sunrise Clinic",
    "slug": "admin",
    "kind": "clinic",
    "owner_name": "Nisha Verma",
    "owner_email": "nisha@sunrise.example.com",
    "owner_password": "short",
    "timezone": "Asia/Kolkata",
    "currency": "INR",
}


def page_language(response: Any) -> str:
    found = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert found, response.content[:200]
    return found.group(1)


def test_a_browser_that_asks_for_hindi_gets_the_sign_in_page_in_hindi(api: HostClient) -> None:
    response = api.get("/login/", HTTP_ACCEPT_LANGUAGE=HINDI)

    html = response.content.decode()
    assert response.status_code == 200 and page_language(response) == "hi"
    assert "स्टाफ़ साइन-इन" in html and "पासवर्ड भूल गए?" in html
    assert "Staff sign-in" not in html
    assert response["Content-Language"] == "hi"
    assert "Accept-Language" in response["Vary"] and "Cookie" in response["Vary"]


@pytest.mark.parametrize("header", ["hi", "hi-IN", "HI-in,en;q=0.5"])
def test_hindi_first_in_any_spelling_is_hindi(api: HostClient, header: str) -> None:
    assert page_language(api.get("/login/", HTTP_ACCEPT_LANGUAGE=header)) == "hi"


@pytest.mark.parametrize("header", [None, "en-US,hi;q=0.9", "fr-FR,fr;q=0.9", "xx-bogus,;;q=", ""])
def test_english_is_the_default(api: HostClient, header: str | None) -> None:
    extra = {"HTTP_ACCEPT_LANGUAGE": header} if header is not None else {}

    response = api.get("/login/", **extra)

    assert response.status_code == 200 and page_language(response) == "en-IN"
    assert "Staff sign-in" in response.content.decode()


def test_the_choice_on_the_page_beats_what_the_browser_asks_for(api: HostClient) -> None:
    page = api.get("/login/", HTTP_ACCEPT_LANGUAGE=HINDI).content.decode()
    assert 'action="/language/"' in page and 'name="language" value="en"' in page

    chosen = api.post("/language/", {"language": "en", "next": "/login/"})

    assert chosen.status_code == 302 and chosen["Location"] == "/login/"
    assert chosen.cookies[COOKIE].value == "en"
    assert page_language(api.get("/login/", HTTP_ACCEPT_LANGUAGE=HINDI)) == "en-IN"
    api.post("/language/", {"language": "hi", "next": "/password-reset/"})
    assert page_language(api.get("/password-reset/")) == "hi"


@pytest.mark.parametrize("language", ["xx", "", "hi'--", "fr"])
def test_an_unknown_choice_changes_nothing_and_is_no_error(api: HostClient, language: str) -> None:
    answer = api.post("/language/", {"language": language, "next": "/login/"})

    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert COOKIE not in answer.cookies
    assert page_language(api.get("/login/")) == "en-IN"


@pytest.mark.parametrize("header", ["zz;q=abc," * 2000, "hi-" + "x" * 5000, "\u0939\u093f"])
def test_an_odd_accept_language_is_no_error(api: HostClient, header: str) -> None:
    response = api.get("/login/", HTTP_ACCEPT_LANGUAGE=header)

    assert response.status_code == 200 and page_language(response) in ("hi", "en-IN")


def test_a_bogus_cookie_is_english_not_an_error(api: HostClient) -> None:
    api.cookies[COOKIE] = "zz-<script>"

    response = api.get("/login/")

    assert response.status_code == 200 and page_language(response) == "en-IN"


def test_the_choice_goes_back_only_to_this_site(api: HostClient) -> None:
    answer = api.post("/language/", {"language": "hi", "next": "https://evil.example/"})

    assert answer["Location"] == "/"


def test_the_choice_is_a_post(api: HostClient) -> None:
    assert api.get("/language/?language=hi").status_code == 405


def test_the_choice_needs_no_csrf_token_so_pages_stay_the_same_for_everyone(
    tenant: Tenant,
) -> None:
    visitor = Client(HTTP_HOST=f"{tenant.slug}.localhost", enforce_csrf_checks=True)
    sent = [visitor.get("/password-reset/sent/").content for _ in range(2)]

    chosen = visitor.post("/language/", {"language": "hi", "next": "/login/"})

    assert sent[0] == sent[1]
    assert chosen.status_code == 302 and chosen.cookies[COOKIE].value == "hi"


def test_a_signed_in_members_own_language_wins(
    api: HostClient, main_branch: Branch, tenant: Tenant
) -> None:
    member = UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], language="en")
    api.force_login(member)
    api.cookies[COOKIE] = "hi"

    page = api.get("/password-reset/", HTTP_ACCEPT_LANGUAGE=HINDI)

    assert page_language(page) == "en-IN"
    api.post("/account/language/", {"language": "hi", "next": "/"})  # the top bar's switch
    api.cookies[COOKIE] = "en"
    assert page_language(api.get("/password-reset/", HTTP_ACCEPT_LANGUAGE="en")) == "hi"


def test_the_api_stays_english_for_a_hindi_browser(api: HostClient) -> None:
    api.cookies[COOKIE] = "hi"

    answer = api.post(
        "/api/v1/auth/token/", {"username": "x"}, format="json", HTTP_ACCEPT_LANGUAGE=HINDI
    )

    assert answer.status_code == 400
    assert answer.json()["password"] == ["This field is required."]


def test_a_wrong_password_is_refused_in_hindi(api: HostClient, main_branch: Branch) -> None:
    UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")

    response = api.post(
        "/login/",
        {"username": "desk@acme.example", "password": "wrong-guess-00"},
        HTTP_ACCEPT_LANGUAGE=HINDI,
    )

    html = response.content.decode()
    assert response.status_code == 200 and page_language(response) == "hi"
    assert "सही ईमेल और पासवर्ड डालें" in html
    assert "Please enter a correct" not in html


def test_a_locked_sign_in_says_so_in_hindi(api: HostClient, main_branch: Branch) -> None:
    UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")
    for _ in range(5):
        api.post("/login/", {"username": "desk@acme.example", "password": "wrong-guess-00"})

    response = api.post(
        "/login/",
        {"username": "desk@acme.example", "password": "wrong-guess-00"},
        HTTP_ACCEPT_LANGUAGE=HINDI,
    )

    assert "बहुत बार गलत साइन-इन हुआ।" in response.content.decode()


def test_a_bad_reset_address_is_refused_in_hindi(api: HostClient) -> None:
    response = api.post("/password-reset/", {"email": "not an email"}, HTTP_ACCEPT_LANGUAGE=HINDI)

    html = response.content.decode()
    assert response.status_code == 200 and page_language(response) == "hi"
    assert "वैध ईमेल पता लिखें।" in html and "Enter a valid email" not in html


def test_an_unknown_reset_address_lands_on_the_hindi_sent_page(api: HostClient) -> None:
    sent = api.post(
        "/password-reset/",
        {"email": "nobody@acme.example"},
        HTTP_ACCEPT_LANGUAGE=HINDI,
        follow=True,
    )

    assert sent.redirect_chain[-1][0] == "/password-reset/sent/"
    assert "अपना ईमेल देखें" in sent.content.decode()
    assert not mail.outbox


def test_the_reset_email_follows_the_language_of_the_page(
    api: HostClient, main_branch: Branch
) -> None:
    UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")
    english = HostClient("acme.localhost")

    api.post("/password-reset/", {"email": "desk@acme.example"}, HTTP_ACCEPT_LANGUAGE=HINDI)
    english.post("/password-reset/", {"email": "desk@acme.example"})

    hindi_mail, english_mail = mail.outbox
    assert hindi_mail.subject == "अपना MyMedic पासवर्ड दोबारा सेट करें"
    assert "नया पासवर्ड यहाँ चुनें" in str(hindi_mail.body)
    assert "http://acme.localhost/password-reset/" in str(hindi_mail.body)
    assert english_mail.subject == "Reset your MyMedic password"
    assert "Choose a new password here" in str(english_mail.body)


def test_a_weak_new_password_is_refused_in_hindi(api: HostClient, main_branch: Branch) -> None:
    UserFactory(role=Role.RECEPTIONIST, branches=[main_branch], email="desk@acme.example")
    api.post("/password-reset/", {"email": "desk@acme.example"})
    link = re.search(r"http://acme\.localhost(/\S+/)", str(mail.outbox[0].body))
    assert link
    form = api.get(link.group(1), follow=True, HTTP_ACCEPT_LANGUAGE=HINDI)
    assert "नया पासवर्ड चुनें" in form.content.decode()

    refused = api.post(
        form.redirect_chain[-1][0],
        {"new_password1": "12345", "new_password2": "12345"},
        HTTP_ACCEPT_LANGUAGE=HINDI,
    )

    html = refused.content.decode()
    assert "यह पासवर्ड बहुत छोटा है।" in html and "इस पासवर्ड में सिर्फ़ अंक हैं।" in html


def test_the_sign_up_form_and_its_refusals_in_hindi(public_api: HostClient) -> None:
    form = public_api.get("/signup/", HTTP_ACCEPT_LANGUAGE=HINDI)
    assert page_language(form) == "hi" and "मेरा क्लिनिक बनाएँ" in form.content.decode()

    refused = public_api.post("/signup/", SIGNUP, HTTP_ACCEPT_LANGUAGE=HINDI)

    html = refused.content.decode()
    assert refused.status_code == 400 and page_language(refused) == "hi"
    assert "यह पता आरक्षित है। कृपया कोई दूसरा चुनें।" in html
    assert "यह पासवर्ड बहुत छोटा है।" in html
    assert "This address is reserved" not in html and "too short" not in html
    assert not Tenant.objects.filter(slug="admin").exists()


def test_the_sign_up_api_stays_english_for_a_hindi_browser(public_api: HostClient) -> None:
    answer = public_api.post(
        "/api/v1/onboarding/", SIGNUP, format="json", HTTP_ACCEPT_LANGUAGE=HINDI
    )

    assert answer.status_code == 400
    assert answer.json()["slug"] == ["This address is reserved. Please choose another."]


def test_the_public_site_remembers_the_choice_too(db: None) -> None:
    visitor = Client(HTTP_HOST="localhost")

    chosen = visitor.post("/language/", {"language": "hi", "next": "/signup/"})

    assert chosen.status_code == 302 and chosen["Location"] == "/signup/"
    assert page_language(visitor.get("/signup/", HTTP_ACCEPT_LANGUAGE="en")) == "hi"


def owner_of(slug: str) -> User:
    with schema_context(Tenant.objects.get(slug=slug).schema_name):
        return User.objects.get(role=Role.OWNER)


def test_a_sign_up_made_in_hindi_opens_a_hindi_console_and_sends_a_hindi_email(
    public_api: HostClient,
) -> None:
    valid = {**SIGNUP, "owner_password": "a-long-unusual-passphrase"}
    public_api.post("/signup/", {**valid, "slug": "sunrise"}, HTTP_ACCEPT_LANGUAGE=HINDI)
    public_api.post(
        "/signup/",
        {**valid, "slug": "lotus", "owner_email": "nisha@lotus.example.com"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    hindi_mail, english_mail = mail.outbox
    assert hindi_mail.subject == "MyMedic पर Sunrise Clinic खोलने के लिए अपना ईमेल पक्का करें"
    assert "MyMedic में आपका स्वागत है।" in str(hindi_mail.body)
    assert "यह लिंक 7 दिन तक काम करता है।" in str(hindi_mail.body)
    assert "http://localhost/verify-email/" in str(hindi_mail.body)
    assert "Welcome" not in str(hindi_mail.body)
    assert english_mail.subject == "Confirm your email to open Sunrise Clinic on MyMedic"
    assert "The link works for 7 days." in str(english_mail.body)
    assert [owner_of("sunrise").language, owner_of("lotus").language] == ["hi", "en"]


def test_the_confirmation_sent_again_is_in_the_owners_language(db: None) -> None:
    tenant = TenantFactory(slug="pending")
    client = HostClient("pending.localhost")
    with schema_context(tenant.schema_name):
        owner = User.objects.get(role=Role.OWNER)
        owner.language = "hi"
        owner.save(update_fields=["language"])
        client.force_login(owner)

    client.post("/setup/verify-email/")

    assert mail.outbox[-1].subject == "MyMedic पर Pending Clinic खोलने के लिए अपना ईमेल पक्का करें"
    assert "/verify-email/" in str(mail.outbox[-1].body)
