from django import template

from apps.clinic.models import Branch
from apps.setup import checklist

register = template.Library()


@register.simple_tag
def setup_checklist(branch: Branch) -> checklist.Checklist:
    return checklist.setup_checklist(branch)


@register.filter
def can_set_up(user: object) -> bool:
    return checklist.can_set_up(user)
