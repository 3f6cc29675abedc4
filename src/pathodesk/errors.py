"""Domain exceptions, mapped once to HTTP problem details in ``web.problems``."""

from __future__ import annotations


class PathoDeskError(Exception):
    """Base class: ``status`` and ``title`` say how the web layer reports it."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnsupportedSlideError(PathoDeskError):
    """The file is not a slide we can read (unknown, truncated or non-conformant)."""

    status = 422
    title = "Unreadable slide"


class NotFoundError(PathoDeskError):
    status = 404
    title = "Not found"


class ConflictError(PathoDeskError):
    status = 409
    title = "Conflict"


class PayloadTooLargeError(PathoDeskError):
    status = 413
    title = "Upload too large"


class ValidationFailedError(PathoDeskError):
    status = 422
    title = "Invalid input"


class AuthenticationError(PathoDeskError):
    status = 401
    title = "Not authenticated"


class PermissionDeniedError(PathoDeskError):
    status = 403
    title = "Forbidden"


class Cancelled(Exception):
    """Work stopped because someone asked it to (a cancelled job): not a failure."""
