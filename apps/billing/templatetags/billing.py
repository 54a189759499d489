"""Payment methods and bill lines spelled one way everywhere: the model's labels, and the
consultation, tax and discount lines in the page's language (the bill stores them in
English)."""

from decimal import Decimal
from typing import Any

from django import template
from django.utils.translation import get_language, gettext, pgettext

from apps.billing import gst
from apps.billing.commands import discount_category
from apps.billing.models import Method, Payment
from apps.billing.money import CONSULTATION, TAX_LINE, tax_line_parts

register = template.Library()


def method_label(code: str) -> str:
    """ "upi" → "UPI"; an unknown code is shown as it is."""
    try:
        return str(Method(code).label)
    except ValueError:
        return str(code)


def payment_kind_label(code: str) -> str:
    """ "deposit" → "Deposit" (in the page's language); an unknown code as it is."""
    try:
        return str(Payment.Kind(code).label)
    except ValueError:
        return str(code)


def line_label(line: dict[str, Any]) -> str:
    """What a bill line (or a GST document's line, which has no kind) is called on a page: the
    consultation fee, a tax ("CGST @ 9%", the tax's name as the clinic named it) and a
    discount of a known kind in the page's language; items (what the desk typed) as the bill
    stored them."""
    description = str(line.get("description", ""))
    kind = line.get("kind", "fee")
    if kind == "fee" and description == CONSULTATION:
        return gettext(CONSULTATION)
    if kind == "tax" and (parts := tax_line_parts(description)) is not None:
        return gettext(TAX_LINE) % parts
    if kind == "discount" and (category := discount_category(description)) is not None:
        return gettext("%(category)s discount") % {"category": category.label}
    return description


def line_in_sentence(line: dict[str, Any]) -> str:
    """A bill line named inside a sentence ("Withdraw consultation"): our own labels in lower
    case, what the desk typed as typed ("Paracetamol 650 mg")."""
    label = line_label(line)
    return label if line.get("kind") == gst.ITEM else label.lower()


def gst_title(kind: str) -> str:
    """A GST document's title as printed: the words GST law uses, in English; a Hindi page
    puts the Hindi before them ("कर बीजक / Tax Invoice")."""
    titles = {
        "tax_invoice": pgettext("GST document title", "Tax Invoice"),
        "bill_of_supply": pgettext("GST document title", "Bill of Supply"),
        "credit_note": pgettext("GST document title", "Credit Note"),
    }
    return titles.get(kind, str(kind))


def in_words(amount: Decimal) -> str:
    """A document's total in words in the page's language: Hindi on a Hindi page ("पाँच सौ
    रुपये मात्र"), English otherwise (as the API and the stored document give it)."""
    return gst.amount_in_words(abs(amount), "hi" if get_language() == "hi" else "en")


register.filter("method_label", method_label)
register.filter("payment_kind_label", payment_kind_label)
register.filter("line_label", line_label)
register.filter("line_in_sentence", line_in_sentence)
register.filter("gst_title", gst_title)
register.filter("in_words", in_words)
register.filter("state_name", gst.state_name)
