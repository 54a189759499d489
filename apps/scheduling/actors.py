"""A patient acting for themselves (the patient app), as a command's actor.

Event metadata and audit entries record it as `actor_role` "patient" with the patient's id,
so a patient's booking reads exactly like a receptionist's, apart from who did it.
"""

from dataclasses import dataclass
from typing import ClassVar

PATIENT_ROLE = "patient"


@dataclass(frozen=True)
class PatientActor:
    patient_id: int

    role: ClassVar[str] = PATIENT_ROLE
    # What authentication hands to DRF and Django as `request.user`.
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def pk(self) -> int:
        return self.patient_id

    def __str__(self) -> str:
        return f"Patient {self.patient_id}"
