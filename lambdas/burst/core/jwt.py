"""The expiry of a ServiceAccount token, read from its own `exp` claim: no API call.

A TokenRequest token is a JWT (header.payload.signature, base64url). Only the payload's
`exp` is read, and the signature is not checked: the API server does that; this only tells
how long the token has left, so the alarm can warn before it stops working.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime


def expiry(token: str) -> datetime | None:
    """When `token` expires (its `exp` claim, UTC); None if it is not a JWT with one.

    Legacy ServiceAccount-secret tokens are JWTs without `exp`: they never expire.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return datetime.fromtimestamp(exp, tz=UTC)


def days_left(token: str, now: datetime) -> float | None:
    """Days until `token` expires (negative once it has); None if it does not say."""
    found = expiry(token)
    return None if found is None else (found - now).total_seconds() / 86400
