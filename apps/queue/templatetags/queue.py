from django import template

from apps.queue.commands import QUEUE_ADMINS

register = template.Library()


@register.filter
def manages_displays(user: object) -> bool:
    """Whether the console offers this member the branch's display links and rooms."""
    return getattr(user, "role", None) in QUEUE_ADMINS
