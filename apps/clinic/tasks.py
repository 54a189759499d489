"""Staff email leaves from tasks, never from the request that asked for it: a slow or absent
mail server holds a worker (bounded by EMAIL_TIMEOUT), not a web request and its database
connection. The tasks take ids and render the links themselves, so no reset token or
invitation link waits in the broker."""

from smtplib import SMTPException
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.clinic.models import User

# A refused or unreachable mail server is tried again after 5, 10, 20, … seconds.
MAIL_RETRY: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OSError, SMTPException),
    "retry_backoff": 5,
    "max_retries": 5,
}


def _uid(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


@shared_task(**MAIL_RETRY)
def send_invitation(user_id: int, site_url: str) -> None:
    """Emails an invited staff member the link that sets their password (tenant-schemas-celery
    sets the schema)."""
    user = User.objects.get(pk=user_id)
    token = default_token_generator.make_token(user)
    context = {
        "user": user,
        "link": f"{site_url}/invitation/{_uid(user)}/{token}/",
        "site": site_url,
    }
    send_mail(
        subject="You are invited to MyMedic",
        message=render_to_string("registration/invitation_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )


@shared_task(**MAIL_RETRY)
def send_password_reset(
    user_id: int,
    site: dict[str, str],
    subject_template: str,
    body_template: str,
    language: str = settings.LANGUAGE_CODE,
) -> None:
    """Django's password-reset email for this user, with a token made now. `site` holds the
    request's `domain`, `site_name` and `protocol`; `language` is the one the request page was
    shown in (English, or Hindi for a visitor who reads the signed-out pages in Hindi)."""
    user = User.objects.get(pk=user_id)
    context = {
        **site,
        "email": user.email,
        "uid": _uid(user),
        "user": user,
        "token": default_token_generator.make_token(user),
    }
    with translation.override(language):
        subject = "".join(render_to_string(subject_template, context).splitlines())
        message = render_to_string(body_template, context)
    send_mail(
        subject=subject,
        message=message,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
