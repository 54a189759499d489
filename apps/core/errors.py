"""The one domain error type that commands raise; `apps.core.api` maps it to HTTP.

A refusal's `message` is English (en-IN) whatever page or client asked: the API's `detail`,
logs and stored text never depend on who was signed in. A command marks a refusal for the
console's languages by giving its wording with `gettext_noop` and the changing parts as
`params` (`Conflict(gettext_noop("Only %(left)s can be refunded."), params={...})`); the
console shows `translated()`, the same sentence in the page's language.
"""

from collections.abc import Mapping, Sequence

from django.conf import settings
from django.utils import translation


class DomainError(Exception):
    """A command refused its input or the current state forbids it."""

    status_code = 409
    code = "conflict"
    # Seconds after which the same request may succeed (the Retry-After header), if known.
    retry_after: int | None = None

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.wording = message
        self.params = dict(params or {})
        # Lazy parts (a status's label) are put in the English of the API and the logs.
        with translation.override(settings.LANGUAGE_CODE):
            english = self._fill(message)
        super().__init__(english)
        self.message = english
        self.field = field

    def _fill(self, wording: str) -> str:
        if not self.params:
            return wording
        return wording % {key: str(value) for key, value in self.params.items()}

    def translated(self) -> str:
        """The refusal in the active language (a console page's); unmarked wording, or wording
        the catalogue has no translation of, stays English."""
        return self._fill(translation.gettext(self.wording))

    def as_dict(self) -> dict[str, object]:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message}


class InvalidInput(DomainError):
    """Input that no state of the system would accept (400)."""

    status_code = 400
    code = "invalid"

    def __init__(
        self,
        message: str = "Invalid input.",
        *,
        field: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, field=field, params=params)
        self.errors = {key: list(value) for key, value in (errors or {}).items()}

    def as_dict(self) -> dict[str, object]:
        if self.errors:
            return dict(self.errors)
        return super().as_dict()


class NotFound(DomainError):
    """Unknown, or outside the caller's reach: the two are indistinguishable (404)."""

    status_code = 404
    code = "not_found"


class PermissionDenied(DomainError):
    """The caller's role may never do this (403)."""

    status_code = 403
    code = "forbidden"


class Unavailable(DomainError):
    """A part the answer needs (the analytics warehouse) cannot be reached now; nothing was
    changed and the same request may succeed later (503)."""

    status_code = 503
    code = "unavailable"


class TenantMoving(Unavailable):
    """The tenant is being moved to another cell: its writes pause for a few seconds (503
    with Retry-After); nothing was changed."""

    retry_after = 5

    def __init__(self, message: str = "This clinic is moving; try again in a few seconds.") -> None:
        super().__init__(message)


class Conflict(DomainError):
    """Valid input that the current state refuses: slot taken, transition not allowed (409)."""
