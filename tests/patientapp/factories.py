"""Patient app test data: tokens and codes are issued by `apps.patientapp.auth`, which keeps
only their hashes; the factories hand back the row with the key or code it was made from."""

from typing import Any

import factory

from apps.patientapp import auth
from apps.patientapp.models import PatientToken
from tests.scheduling.factories import PatientFactory


class PatientTokenFactory(factory.Factory):
    """A signed-in patient's token; `.key` is what the app sends."""

    class Meta:
        model = PatientToken

    patient = factory.SubFactory(PatientFactory)

    @classmethod
    def _create(cls, model_class: type[PatientToken], **kwargs: Any) -> PatientToken:
        key = auth.issue_token(kwargs["patient"])
        token = PatientToken.objects.get(key_hash=auth.key_hash(key))
        token.key = key  # type: ignore[attr-defined]
        return token
