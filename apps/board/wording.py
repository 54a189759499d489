"""What the board calls each visit status and queue step, in the staff member's language (the
models' own labels are English only). Keyed by the models' values: a new status or step
without a label here fails `tests/board/test_wording.py`."""

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from apps.queue.models import QueueEntry
from apps.scheduling.models import Appointment

STATUS_LABELS: dict[str, Promise] = {
    Appointment.Status.BOOKED: pgettext_lazy("board", "Booked"),
    Appointment.Status.CHECKED_IN: pgettext_lazy("board", "Checked in"),
    Appointment.Status.COMPLETED: pgettext_lazy("board", "Completed"),
    Appointment.Status.CANCELLED: pgettext_lazy("board", "Cancelled"),
    Appointment.Status.NO_SHOW: pgettext_lazy("board", "No-show"),
}

STAGE_LABELS: dict[str, Promise] = {
    QueueEntry.Stage.WAITING: pgettext_lazy("board", "waiting"),
    QueueEntry.Stage.CALLED: pgettext_lazy("board", "called in"),
    QueueEntry.Stage.STARTED: pgettext_lazy("board", "with the doctor"),
    QueueEntry.Stage.DONE: pgettext_lazy("board", "seen"),
}
