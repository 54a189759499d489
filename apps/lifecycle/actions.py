"""The operator admin's "Close and erase…" action on subscriptions: a page that asks for
the tenant's slug to be typed, then `tenant_close` (apps/plans/admin.py lists it)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from apps.core.errors import DomainError
from apps.lifecycle.commands import tenant_close
from apps.plans.models import Subscription


class CloseForm(forms.Form):
    typed_slug = forms.CharField(
        label="Type the tenant's address (slug) to confirm", max_length=31, strip=True
    )
    erase_now = forms.BooleanField(
        required=False,
        label="Erase now (skip the grace in which the owner may still export)",
    )
    reason = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: Any, slug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_typed_slug(self) -> str:
        typed: str = self.cleaned_data["typed_slug"]
        if typed != self.slug:
            raise forms.ValidationError(f"Type {self.slug} exactly to close this tenant.")
        return typed


@admin.action(description="Close and erase… (asks to type the slug)")
def close_and_erase(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Subscription]
) -> HttpResponse | None:
    """One tenant at a time: a page that asks for its slug, then `tenant_close`."""
    if queryset.count() != 1:
        model_admin.message_user(request, "Close one tenant at a time.", messages.ERROR)
        return None
    subscription = queryset.select_related("tenant").get()
    slug = subscription.tenant.slug
    form = CloseForm(request.POST if "confirm" in request.POST else None, slug=slug)
    if form.is_bound and form.is_valid():
        try:
            closure = tenant_close(
                actor=request.user.get_username(),
                slug=slug,
                reason=form.cleaned_data["reason"],
                erase_now=form.cleaned_data["erase_now"],
            )
        except DomainError as exc:
            model_admin.message_user(request, f"{slug}: {exc.message}", messages.ERROR)
            return None
        if closure.erased_at is not None:
            done = f"Closed and erased {slug} (closure record {closure.pk})."
        else:
            done = f"Closed {slug}; it will be erased after {closure.erase_after:%Y-%m-%d}."
        model_admin.message_user(request, done)
        return None
    return TemplateResponse(
        request,
        "lifecycle/close_confirm.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": f"Close {slug}",
            "subscription": subscription,
            "form": form,
            "opts": model_admin.model._meta,
            "action": "close_and_erase",
            "selected": subscription.pk,
        },
    )
