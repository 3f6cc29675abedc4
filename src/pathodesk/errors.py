"""Domain exceptions, mapped once to HTTP problem details in ``web.problems``."""

from __future__ import annotations

from pathodesk.i18n import N_


class PathoDeskError(Exception):
    """Base class: ``status`` and ``title`` say how the web layer reports it."""

    status = 400
    title = N_("Bad request")

    def __init__(self, detail: str, **values: object) -> None:
        """``detail`` in English with named ``%(name)s`` places for ``values``: the text is also
        the catalogue's key, so the web layer can say it in the caller's language."""
        self.message = detail
        self.values = values
        self.detail = detail % values if values else detail
        super().__init__(self.detail)


class UnsupportedSlideError(PathoDeskError):
    """The file is not a slide we can read (unknown, truncated or non-conformant)."""

    status = 422
    title = N_("Unreadable slide")


class NotFoundError(PathoDeskError):
    status = 404
    title = N_("Not found")


class ConflictError(PathoDeskError):
    status = 409
    title = N_("Conflict")


class PayloadTooLargeError(PathoDeskError):
    status = 413
    title = N_("Upload too large")


class ValidationFailedError(PathoDeskError):
    status = 422
    title = N_("Invalid input")


class AuthenticationError(PathoDeskError):
    status = 401
    title = N_("Not authenticated")


class PermissionDeniedError(PathoDeskError):
    status = 403
    title = N_("Forbidden")


class Cancelled(Exception):
    """Work stopped because someone asked it to (a cancelled job): not a failure."""


class StorageUnavailableError(PathoDeskError):
    """A storage tier, the mirror or a reading station could not be reached or refused the bytes:
    nothing was changed, and the work can be retried later (SPEC E4, E5)."""

    status = 503
    title = N_("Storage unavailable")


class StorageFullError(StorageUnavailableError):
    status = 507
    title = N_("Storage full")
