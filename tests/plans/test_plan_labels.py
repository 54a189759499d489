"""Plan and module names as an owner who reads Hindi sees them: the "not in your plan" page
and the subscription page show the shipped names and descriptions in Hindi, an operator's own
wording as it was written, and the API keeps the rows' English."""

import re

import pytest

from apps.clinic.models import User
from apps.plans import labels
from apps.plans.models import Module, Plan
from apps.plans.modules import MODULES
from apps.tenants.models import Tenant
from tests.conftest import HostClient, client_for
from tests.plans.conftest import PutOnPlan

pytestmark = pytest.mark.usefixtures("monday_morning")


def text_of(html: str) -> str:
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def hindi_owner(api: HostClient, owner: User) -> HostClient:
    """The owner, signed in, after choosing Hindi with the top bar's switch."""
    api.force_login(owner)
    answer = api.post("/account/language/", {"language": "hi", "next": "/reception/"})
    assert answer.status_code == 302
    return api


def test_the_shipped_plans_and_modules_have_their_hindi() -> None:
    shipped_plans = dict(
        Plan.objects.filter(slug__in=labels.PLAN_NAMES).values_list("slug", "name")
    )
    modules = list(Module.objects.all())

    assert shipped_plans == labels.PLAN_NAMES
    assert {m.code: m.name for m in modules} == {c: labels.MODULE_NAMES[c] for c in MODULES}
    assert {m.code: m.adds for m in modules} == {c: labels.MODULE_ADDS[c] for c in MODULES}


def test_the_not_in_your_plan_page_reads_in_hindi_and_the_api_keeps_english(
    hindi_owner: HostClient, owner: User, tenant: Tenant, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(Plan.objects.get(slug="clinic"))

    page = hindi_owner.get("/reception/settlements/")
    words = text_of(page.content.decode())
    by_api = client_for(owner, tenant).get("/api/v1/settlements/exceptions/")

    assert page.status_code == 402
    assert '<html lang="hi">' in page.content.decode()
    assert "मिलान और विश्लेषण आपके प्लान में नहीं है" in words
    assert "आपका क्लिनिक क्लिनिक प्लान पर है, जिसमें मिलान और विश्लेषण शामिल नहीं है।" in words
    assert "इससे क्या मिलता है" in words and "दिन के अंत में नकद और सेटलमेंट की गिनती" in words
    assert "इनमें शामिल: चेन , अस्पताल ." in words
    for english in (
        "is not in your plan",
        "Reconciliation and analytics",
        "What it adds",
        "Day-end cash",
        "Included in",
        "Chain",
        "Hospital",
        "Back to the console",
    ):
        assert english not in words, english
    assert by_api.status_code == 402
    assert by_api.json() == {
        "detail": "Reconciliation and analytics is not in your plan (Clinic).",
        "module": "reconciliation",
    }


def test_a_plan_or_module_an_operator_renamed_is_shown_as_written(
    hindi_owner: HostClient, put_on_plan: PutOnPlan
) -> None:
    put_on_plan()  # the operator's "Bare" plan: scheduling only
    Module.objects.filter(code="reconciliation").update(name="Daily close", adds="Counts.")

    words = text_of(hindi_owner.get("/reception/settlements/").content.decode())

    assert "Daily close आपके प्लान में नहीं है" in words
    assert "<strong>Bare</strong>" in hindi_owner.get("/reception/settlements/").content.decode()
    assert "Counts." in words


def test_the_subscription_page_names_the_plan_modules_and_state_in_hindi(
    hindi_owner: HostClient, put_on_plan: PutOnPlan
) -> None:
    put_on_plan(Plan.objects.get(slug="clinic"), status="past_due")

    words = text_of(hindi_owner.get("/account/subscription/").content.decode())

    assert "क्लिनिक" in words and "भुगतान बाक़ी" in words and "प्रति सक्रिय डॉक्टर" in words
    assert "₹999.00" in words
    for hindi in (
        "शेड्यूलिंग",
        "बिलिंग",
        "मिलान और विश्लेषण",
        "मरीज़ ऐप",
        "रिमाइंडर",
        "इंटीग्रेशन (HL7 / FHIR)",
        "सक्रिय डॉक्टर (महीने में सबसे अधिक)",
    ):
        assert hindi in words, hindi
    for english in (
        "Scheduling",
        "Reconciliation and analytics",
        "Patient app",
        "Reminders",
        "Past due",
        "Per active doctor",
        "Active doctors",
        "Patient messages",
    ):
        assert english not in words, english
