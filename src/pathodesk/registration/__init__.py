"""Registration of serial sections in different stains (SPEC D1, D2): pure functions on
arrays; the section-group job reads the slides and stores what ``register`` returns."""

from pathodesk.registration.landmarks import read_points, relative_tre, write_points
from pathodesk.registration.pipeline import Registration, RegistrationFailed, RegistrationParams, register
from pathodesk.registration.transform import Transform

__all__ = [
    "Registration",
    "RegistrationFailed",
    "RegistrationParams",
    "Transform",
    "read_points",
    "register",
    "relative_tre",
    "write_points",
]
