"""A tenant's one settings row: the defaults until somebody changes a setting, then the row."""

from django.db import transaction

from apps.scheduling import commands
from apps.scheduling.models import SchedulingSettings
from apps.tenants.models import Tenant


def test_settings_nobody_changed_are_the_unsaved_defaults(tenant: Tenant) -> None:
    rules = SchedulingSettings.current()

    assert rules.pk == 1 and rules._state.adding
    assert rules.check_in_opens_minutes == 120
    assert not SchedulingSettings.objects.exists()


def test_changed_settings_are_the_one_row(tenant: Tenant) -> None:
    commands.scheduling_settings_update(
        actor=None, check_in_opens_minutes=60, no_show_grace_minutes=10
    )
    commands.scheduling_settings_update(
        actor=None, check_in_opens_minutes=30, no_show_grace_minutes=10
    )

    assert SchedulingSettings.objects.count() == 1
    assert SchedulingSettings.current().check_in_opens_minutes == 30


def test_a_command_gets_the_row_locked_or_a_new_one_to_save(tenant: Tenant) -> None:
    with transaction.atomic():
        fresh = SchedulingSettings.for_update()
    commands.scheduling_settings_update(
        actor=None, check_in_opens_minutes=60, no_show_grace_minutes=10
    )
    with transaction.atomic():
        locked = SchedulingSettings.for_update()

    assert fresh._state.adding and fresh.pk == 1
    assert not locked._state.adding and locked.check_in_opens_minutes == 60
