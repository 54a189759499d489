"""What python-hl7 logs about text it cannot decode reaches our logs without the text."""

import logging

import hl7
import pytest

# A field with an escape python-hl7 cannot decode (\Xzz\: "zz" is no hex) and one it does not
# know (\Q…\), around a patient's name and phone.
MESSAGE = (
    "MSH|^~\\&|HIS|CITY|MYMEDIC|ACME|202701040800||ADT^A04|MSG1|P|2.5\r"
    "PID|1||123^^^CITY^MR||Kumari\\Xzz\\Savitri^Devi||19800101|F|||||+919812300077\\Qsecret\\\r"
)


def test_an_undecodable_escape_is_logged_without_the_patients_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    message = hl7.parse(MESSAGE)

    message.unescape(str(message.segment("PID")[5]))
    message.unescape(str(message.segment("PID")[13]))

    records = [r for r in caplog.records if r.name.endswith(("hl7/util.py", "hl7/containers.py"))]
    assert len(records) >= 2  # both escapes were reported
    assert all(r.getMessage().startswith("python-hl7: Error") for r in records)
    for needle in ("Kumari", "Savitri", "Devi", "zz", "9812300077", "secret"):
        assert needle not in caplog.text
    assert all(r.exc_info is None and r.exc_text is None for r in records)
