"""The header read for routing and storing (`parsing.header_of`, MSH alone) gives what the
full parse gives (`parsing.parse`, python-hl7's tree), refusals included, for any text."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.integration.parsing import Header, Unparseable, header_of, parse

# Values that exercise the separators, the escape character and blanks.
VALUE = st.text(alphabet="AZ09 .^~&\\|#-", max_size=12)
ENCODING = st.one_of(
    st.just("^~\\&"),
    st.text(alphabet="^~\\&#|!*", min_size=0, max_size=5),
)


@st.composite
def messages(draw: st.DrawFn) -> str:
    encoding = draw(ENCODING)
    fields = draw(st.lists(VALUE, min_size=0, max_size=17))
    msh = "MSH|" + encoding + "|" + "|".join(fields)
    if draw(st.booleans()):
        msh = draw(st.sampled_from(["MSH#", "MSH", "MSX|", "msh|", " MSH|"])) + msh[4:]
    rest = draw(
        st.lists(
            st.sampled_from(
                [
                    "PID|||1^^^X^MR||A^B",
                    "EVN|A04",
                    "MSH|^~\\&|X",
                    "BHS",
                    "FHS|",
                    "MSH",
                    "",
                    "PV1|1|O",
                ]
            ),  # fmt: skip
            max_size=3,
        )
    )
    newline = draw(st.sampled_from(["\r", "\n", "\r\n"]))
    return newline.join([msh, *rest])


def outcome(read: object, text: str) -> Header | tuple[str, str]:
    try:
        return read(text)  # type: ignore[operator]
    except Unparseable as exc:
        return ("refused", str(exc))


# python-hl7 itself warns (Logger.warn) on some escape sequences; both sides go through it.
@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
@example("MSH|^~\\&|HIS|CITY~X^Y&Z| R |acme||20270104|ADT^A04^ADT_A01~B^C|C1|P|2.5|||AL|NE")
@example("MSH|^~\\&|HIS|F\\F\\H||acme||x|ADT^A04|C1")
@example("MSH|^~\\&|HIS|F||acme||x|ADT|C1\rMSH")
@example("MSH|^~\\&|HIS|F||acme||x|^A04|C1")
@example("MSH|^^\\&|HIS|F||acme||x|ADT^A04|C1")
@example("MSH|^~\\&|||||||0|0\r\rPID|||1^^^X^MR||A^B")  # an empty segment
def test_the_header_alone_reads_as_the_full_parse(text: str) -> None:
    assert outcome(header_of, text) == outcome(lambda t: parse(t)[1], text)


def test_the_header_alone_reads_a_routine_message_without_the_full_parse() -> None:
    text = (
        "MSH|^~\\&|HIS|CITYHOSP|MYMEDIC|acme|20270104090000||ADT^A04^ADT_A01|MSG00001|P|2.5"
        "|||AL|NE\rPID|||MRN1^^^CITYHOSP^MR||Sharma^Anita\r"
    )
    assert header_of(text) == Header(
        "HIS", "CITYHOSP", "MYMEDIC", "acme", "MSG00001", "ADT", "A04", "AL", "NE"
    )
