"""Passwords (A12): the policy a new password must meet and its argon2id hash; the database
only ever sees the hash. Shared by the CLI, the admin API and login."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from pathodesk.i18n import N_

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when an account does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# zxcvbn's score (0-4) from its lists of common passwords, words, names, keyboard walks and
# dates: 3 is "safely unguessable" (about 10^8 guesses or more); "password12" scores 1
MIN_STRENGTH = 3
STRENGTH_PREFIX = 100  # zxcvbn's time grows with length; a longer password is strong anyway


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# why a password is refused: a sentence (the translation catalogue's key) and its values
PasswordProblem = tuple[str, dict[str, object]]


def password_problems(password: str, personal: Sequence[str] = ()) -> list[PasswordProblem]:
    """Why a password is too weak (empty list when acceptable); ``personal`` holds words of
    the account (its name, the person's name) that must not carry the password."""
    problems: list[PasswordProblem] = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            (N_("the password needs at least %(count)s characters"), {"count": MIN_PASSWORD_LENGTH})
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(
            (N_("the password may have at most %(count)s characters"), {"count": MAX_PASSWORD_LENGTH})
        )
    if password.isdigit() or password.isalpha():
        problems.append((N_("the password needs letters and at least one digit or symbol"), {}))
    strength = zxcvbn(password[:STRENGTH_PREFIX], user_inputs=list(personal))["score"] if not problems else 0
    if not problems and strength < MIN_STRENGTH:
        problems.append(
            (
                N_("the password is too easy to guess: a common password, or close to one or to the account"),
                {},
            )
        )
    return problems
