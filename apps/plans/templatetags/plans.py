"""`{% load plans %}`: plan and module names in the page's language (`apps.plans.labels`)."""

from django import template

from apps.plans import labels

register = template.Library()

register.filter("plan_label", labels.plan_of)
register.filter("module_label", labels.module_label)
register.filter("module_adds", labels.module_adds)
register.filter("subscription_status", labels.status_label)
register.filter("plan_pricing", labels.pricing_label)
