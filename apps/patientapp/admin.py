from django.contrib import admin
from django.http import HttpRequest

from apps.clinic.admin import TenantSettingsAdmin
from apps.clinic.scoping import staff_of
from apps.patientapp import commands
from apps.patientapp.models import PatientAppSettings


@admin.register(PatientAppSettings)
class PatientAppSettingsAdmin(TenantSettingsAdmin):
    list_display = ["__str__", "change_window_hours"]
    fields = ["change_window_hours"]

    def update(
        self, request: HttpRequest, obj: PatientAppSettings, changed: list[str]
    ) -> PatientAppSettings:
        return commands.patient_app_settings_update(
            actor=staff_of(request), change_window_hours=obj.change_window_hours
        )
