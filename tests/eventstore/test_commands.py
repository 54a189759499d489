"""The replay and projections management commands, and the /metrics endpoint."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.eventstore.projections import catch_up
from apps.scheduling import commands
from apps.scheduling.models import AppointmentView, Doctor, Patient
from apps.tenants.models import Tenant
from tests.clock import ist
from tests.conftest import HostClient


def run(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


@pytest.fixture
def booked(tenant: Tenant, doctor: Doctor, patient: Patient) -> None:
    for hour in (9, 10, 11):
        commands.appointment_book(actor=None, doctor=doctor, patient=patient, start=ist(5, hour))


def test_replay_rebuilds_a_tenants_projection(booked: None, tenant: Tenant) -> None:
    output = run("replay", "--tenant", "acme", "--projection", "appointments")

    assert "acme/appointments: rebuilt to position" in output
    assert AppointmentView.objects.count() == 3


def test_replay_check_passes_on_a_faithful_read_model(booked: None, tenant: Tenant) -> None:
    catch_up()

    assert "Every read model matches" in run("replay", "--tenant", "acme", "--check")


def test_replay_check_fails_on_a_drifted_read_model(booked: None, tenant: Tenant) -> None:
    catch_up()
    row = AppointmentView.objects.first()
    assert row is not None
    row.status = "no_show"
    row.save()

    with pytest.raises(CommandError, match="differ"):
        run("replay", "--tenant", "acme", "--check")


def test_replay_refuses_unknown_names(tenant: Tenant) -> None:
    with pytest.raises(CommandError, match="Unknown projection"):
        run("replay", "--projection", "nope")
    with pytest.raises(CommandError, match="Unknown tenant"):
        run("replay", "--tenant", "nope")


def test_projections_lists_position_and_lag(booked: None, tenant: Tenant) -> None:
    output = run("projections", "--tenant", "acme")

    assert "acme/appointments: position 0 of" in output
    catch_up()
    assert "(lag 0) running" in run("projections", "--tenant", "acme")


def test_metrics_report_lag_per_tenant_and_projection(
    booked: None, public_api: HostClient, settings: object
) -> None:
    settings.MYMEDIC_METRICS_TOKEN = "s3cret"  # type: ignore[attr-defined]
    body = public_api.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()

    assert 'mymedic_projection_lag{tenant="acme",projection="appointments"}' in body
    assert 'mymedic_projection_parked{tenant="globex",projection="appointments"} 0' in body


def test_metrics_need_the_token_from_anywhere(public_api: HostClient, settings: object) -> None:
    # Loopback proves nothing (a proxy on the same host); without a token there is no /metrics.
    assert public_api.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    settings.MYMEDIC_METRICS_TOKEN = "s3cret"  # type: ignore[attr-defined]
    assert public_api.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    allowed = public_api.get("/metrics", REMOTE_ADDR="10.0.0.9", HTTP_AUTHORIZATION="Bearer s3cret")
    assert allowed.status_code == 200
