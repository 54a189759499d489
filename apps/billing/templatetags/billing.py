"""Payment methods spelled one way everywhere: the model's labels."""

from django import template

from apps.billing.models import Method

register = template.Library()


def method_label(code: str) -> str:
    """ "upi" → "UPI"; an unknown code is shown as it is."""
    try:
        return str(Method(code).label)
    except ValueError:
        return str(code)


register.filter("method_label", method_label)
