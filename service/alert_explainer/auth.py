"""Webhook authentication, matching what Alertmanager's http_config can send.

`authorization: {credentials: ...}` arrives as `Authorization: Bearer <token>`;
`basic_auth` as `Authorization: Basic <base64(user:password)>`. Any configured credential
is accepted, so a token can be rotated without downtime. Comparisons run in constant time,
and a failure never says which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from pathlib import Path

from alert_explainer.config import AuthSettings


def _read(path: Path | None) -> str:
    assert path is not None  # config validation guarantees password or password_file
    return path.read_text(encoding="utf-8").strip()


@dataclass(frozen=True, slots=True)
class Authenticator:
    """The accepted credentials of one route (or the global ones)."""

    bearer_tokens: tuple[bytes, ...]
    basic_pairs: tuple[bytes, ...]  # b"user:password"

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Authenticator:
        """Read inline credentials and credential files (as Kubernetes mounts Secrets)."""
        tokens = [t.get_secret_value() for t in settings.bearer_tokens]
        tokens += [_read(f) for f in settings.bearer_token_files]  # read once, at start-up
        pairs = []
        for cred in settings.basic_auth:
            password = (
                cred.password.get_secret_value() if cred.password else _read(cred.password_file)
            )
            pairs.append(f"{cred.username}:{password}".encode())
        return cls(tuple(t.encode() for t in tokens if t), tuple(pairs))

    @property
    def enabled(self) -> bool:
        """Whether any credential is required."""
        return bool(self.bearer_tokens or self.basic_pairs)

    def allows(self, authorization: str | None) -> bool:
        """Whether the Authorization header carries one of the accepted credentials."""
        if not self.enabled:
            return True
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return _any_equal(value.encode(), self.bearer_tokens)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return False
            return _any_equal(decoded, self.basic_pairs)
        return False

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate header value for a 401."""
        schemes = []
        if self.bearer_tokens:
            schemes.append('Bearer realm="alert-explainer"')
        if self.basic_pairs:
            schemes.append('Basic realm="alert-explainer", charset="UTF-8"')
        return ", ".join(schemes)


def _any_equal(candidate: bytes, accepted: tuple[bytes, ...]) -> bool:
    # Compare against every credential, so timing does not reveal which one was close.
    found = False
    for expected in accepted:
        found |= hmac.compare_digest(candidate, expected)
    return found
