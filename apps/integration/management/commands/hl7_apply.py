"""`manage.py hl7_apply`: the applier (apps.integration.applier), which `mllp_listen` starts
beside its listener processes; run by hand only when the listeners run with `--no-applier`
elsewhere and this host should apply."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.integration.applier import Applier


class Command(BaseCommand):
    help = "Applies the HL7 messages the MLLP listeners stored and answered with a commit ACK."

    def handle(self, *args: Any, **options: Any) -> None:
        Applier().run()
