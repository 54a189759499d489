"""The workload generator plays a realistic day through the real commands."""

from django_tenants.utils import schema_context

from apps.audit.trail import verify
from apps.bench.simulate import SEGMENTS, Segment, simulate
from apps.billing.models import Payment
from apps.eventstore.models import Event
from apps.eventstore.projections import catch_up
from apps.scheduling.models import Appointment


def test_a_small_day_is_played_through_the_commands(db: None) -> None:
    tenant, done = simulate(Segment("clinic", 2, 2, 12), seed=3)

    with schema_context(tenant.schema_name):
        appointments = Appointment.objects.all()
        assert done["booked"] == appointments.count() == 2 * 2 * 12
        statuses = {
            s: appointments.filter(status=s).count() for s in ("completed", "no_show", "cancelled")
        }
        assert statuses == {
            "completed": done["completed"],
            "no_show": done["no_show"],
            "cancelled": done["cancelled"],
        }
        assert done["completed"] > done["no_show"] + done["cancelled"]
        assert Payment.objects.count() == done["deposits"] + done["balances"]
        assert Event.objects.filter(type="AppointmentRescheduled").count() == done["rescheduled"]
        assert done["refused"] == 0
        catch_up()
        assert verify().ok


def test_the_segments_follow_the_sizing_model() -> None:
    doctors = {name: s.branches * s.doctors_per_branch for name, s in SEGMENTS.items()}

    assert 1 <= doctors["independent"] <= 5
    assert 5 <= doctors["clinic"] <= 15
    assert 50 <= doctors["chain"] <= 300
    assert 200 <= doctors["hospital"] <= 2000
