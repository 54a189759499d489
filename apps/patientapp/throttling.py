"""Throttles of the patient app: sign-in codes per phone and per address, and API calls per
patient. Rates come from settings when they run (see README)."""

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from apps.core.errors import DomainError
from apps.core.keys import phone_index
from apps.core.throttling import ClientAddressIdent
from apps.scheduling.phones import normalize_phone


class _SettingRate(ClientAddressIdent, SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str:
        return str(getattr(settings, self.setting))


class _PerPhone(_SettingRate):
    def get_cache_key(self, request: Request, view: Any) -> str | None:
        raw = request.data.get("phone") if hasattr(request.data, "get") else None
        if not isinstance(raw, str):
            return None  # refused as invalid input; the per-address throttle still counts it
        try:
            ident = phone_index(normalize_phone(raw))  # keyed hash: no phone number in Redis
        except DomainError:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _PerAddress(_SettingRate):
    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class CodeRequestPhoneThrottle(_PerPhone):
    scope = "patient-code-phone"
    setting = "MYMEDIC_PATIENT_CODE_PHONE_RATE"


class CodeRequestAddressThrottle(_PerAddress):
    scope = "patient-code-ip"
    setting = "MYMEDIC_PATIENT_CODE_IP_RATE"


class SignInPhoneThrottle(_PerPhone):
    scope = "patient-signin-phone"
    setting = "MYMEDIC_PATIENT_SIGNIN_PHONE_RATE"


class SignInAddressThrottle(_PerAddress):
    scope = "patient-signin-ip"
    setting = "MYMEDIC_PATIENT_SIGNIN_IP_RATE"


class PatientThrottle(_SettingRate):
    """Per signed-in patient; a bucket of its own, apart from staff users' ids."""

    scope = "patient"
    setting = "MYMEDIC_API_USER_RATE"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not getattr(request.user, "is_authenticated", False):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
