"""Every string of the board and the doctors' summary goes through Django's translation with
the "board" context, and each has its Hindi in locale/hi (the committed catalogue)."""

import re
from pathlib import Path

from django.utils import translation
from django.utils.translation import pgettext

from apps.board.wording import STAGE_LABELS, STATUS_LABELS
from apps.queue.models import QueueEntry
from apps.scheduling.models import Appointment

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "templates/reception/board.html",
    "templates/reception/_board.html",
    "templates/board/_pages.html",
    "templates/board/doctors.html",
    "templates/board/_doctors.html",
    "apps/board/forms.py",
    "apps/board/wording.py",
    "apps/reception/console.py",
]
SIMPLE = re.compile(r"""translate ["'](.+?)["'] context ["']board["']""")
BLOCK = re.compile(r'blocktranslate (?:with .*?)?context "board" %\}(.+?)\{% endblocktranslate')
PYTHON = re.compile(r'gettext(?:_lazy)?\("board", "(.+?)"\)')


def board_messages() -> set[str]:
    found: set[str] = set()
    for source in SOURCES:
        text = (ROOT / source).read_text()
        found |= set(SIMPLE.findall(text)) | set(PYTHON.findall(text))
        found |= {re.sub(r"\{\{ (\w+) \}\}", r"%(\1)s", m) for m in BLOCK.findall(text)}
    return found


def test_every_status_and_step_has_a_label() -> None:
    assert set(STATUS_LABELS) == set(Appointment.Status.values)
    assert set(STAGE_LABELS) == set(QueueEntry.Stage.values)


def test_every_board_string_has_its_hindi() -> None:
    messages = board_messages()
    with translation.override("hi"):
        untranslated = sorted(m for m in messages if pgettext("board", m) == m)

    assert len(messages) > 60
    assert untranslated == []
