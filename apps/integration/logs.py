"""python-hl7 logs what it cannot decode with the text itself: "Error decoding value [%s],
field [%s]" (a whole field of a patient's message), a traceback that quotes it, and the
segment it met before a header. Those are PHI, and our logs carry none (docs/SECURITY.md).
`Withheld` keeps each such record (its level and what went wrong) without the values."""

import logging

import hl7.containers
import hl7.util


class Withheld(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        what = str(record.msg).split(" [", 1)[0].rstrip(":, ")
        record.msg = "python-hl7: %s (the message's values withheld)"
        record.args = (what,)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def withhold_hl7_values() -> None:
    """Puts `Withheld` on python-hl7's loggers (named by their files' paths, so found through
    the modules that log)."""
    for module in (hl7.util, hl7.containers):
        logger = logging.getLogger(module.__file__)
        if not any(isinstance(each, Withheld) for each in logger.filters):
            logger.addFilter(Withheld())
