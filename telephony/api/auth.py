"""Who is asking: bearer tokens, their scopes, the 401/403 answers, and the audit log of writes.

Tokens come from the config (``[http] read_tokens``, ``write_tokens``, a token file, and
``[api] numbers_tokens``). They are kept only as SHA-256 digests and compared in constant time
(``hmac.compare_digest`` against every configured token, no early exit); a token is never logged
or echoed. A caller is named in the audit log by the token's *fingerprint* (the first 8 hex digits
of its digest: ``write:1f2e3d4c``), which identifies it to an operator who holds the token list
but gives nothing away.

Scopes: a read token reads, a write token reads and writes, a numbers token reads and sees
citizens' numbers unmasked (a write token that should see numbers is listed in both). With no
read or write token configured the read API is open (the daemon warns when it then listens beyond
loopback) and so are writes; nobody sees numbers then.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aiohttp import hdrs, web

from telephony.privacy import mask_numbers_in_text

log = logging.getLogger("hotline.api.auth")
audit_log = logging.getLogger("hotline.audit")

REALM: Final = "hotline"


class Access(enum.Enum):
    """Who may call an endpoint."""

    PUBLIC = "public"
    READ = "read"
    WRITE = "write"


class ApiError(Exception):
    """An error a handler returns to the client as ``{"error": message}`` with `status`."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request as far as the API cares."""

    who: str  # "anonymous" or "<scope>:<fingerprint>"
    may_write: bool
    may_see_numbers: bool


ANONYMOUS: Final = Principal("anonymous", may_write=False, may_see_numbers=False)


def _digest(token: str) -> bytes:
    # Hashing first makes every comparison the same length, so timing says nothing about it.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _check_tokens(kind: str, tokens: Sequence[str]) -> tuple[bytes, ...]:
    if isinstance(tokens, str):
        raise TypeError(f"{kind}: a sequence of tokens, not one string")
    for i, token in enumerate(tokens):
        if not token or token != token.strip():
            # Never the token itself in a message.
            raise ValueError(f"{kind}[{i}]: a token must be non-empty without surrounding spaces")
    return tuple(_digest(t) for t in tokens)


def _bearer_token(request: web.BaseRequest) -> str | None:
    """The credentials of an ``Authorization: Bearer …`` header, or None."""
    scheme, _, credentials = request.headers.get(hdrs.AUTHORIZATION, "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


def _matches_any(digest: bytes, tokens: tuple[bytes, ...]) -> bool:
    found = False
    for token in tokens:  # every token, no early exit
        found |= hmac.compare_digest(digest, token)
    return found


def _unauthorized(message: str, *, invalid: bool) -> ApiError:
    challenge = f'Bearer realm="{REALM}"' + (', error="invalid_token"' if invalid else "")
    return ApiError(401, message, headers={hdrs.WWW_AUTHENTICATE: challenge})


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """The configured tokens (as digests) and the access check for one request."""

    read: tuple[bytes, ...] = ()
    write: tuple[bytes, ...] = ()
    numbers: tuple[bytes, ...] = ()

    @classmethod
    def from_tokens(
        cls,
        read_tokens: Sequence[str],
        write_tokens: Sequence[str],
        numbers_tokens: Sequence[str] = (),
    ) -> BearerAuth:
        """Digest the tokens; ValueError for an empty or space-padded one."""
        return cls(
            read=_check_tokens("read_tokens", read_tokens),
            write=_check_tokens("write_tokens", write_tokens),
            numbers=_check_tokens("numbers_tokens", numbers_tokens),
        )

    @property
    def open(self) -> bool:
        """No read or write token configured: reads and writes need no token."""
        return not (self.read or self.write)

    def principal(self, request: web.BaseRequest) -> Principal | None:
        """The caller a request's bearer token names; None for a missing or unknown token."""
        token = _bearer_token(request)
        if token is None:
            return None
        digest = _digest(token)
        is_write = _matches_any(digest, self.write)
        is_read = _matches_any(digest, self.read)
        is_numbers = _matches_any(digest, self.numbers)
        if not (is_write or is_read or is_numbers):
            return None
        scope = "write" if is_write else ("numbers" if is_numbers else "read")
        return Principal(
            f"{scope}:{digest.hex()[:8]}", may_write=is_write, may_see_numbers=is_numbers
        )

    def authorize(self, request: web.BaseRequest, access: Access) -> Principal:
        """The caller, if it may use an endpoint of `access`; else raise the 401/403."""
        principal = self.principal(request)
        if access is Access.PUBLIC or self.open:
            if principal is None:
                return Principal("anonymous", may_write=self.open, may_see_numbers=False)
            return principal
        if principal is None:
            if _bearer_token(request) is None:
                raise _unauthorized("missing bearer token", invalid=False)
            raise _unauthorized("invalid token", invalid=True)
        if access is Access.WRITE and not principal.may_write:
            raise ApiError(403, "this endpoint needs a write token")
        return principal


class AuditLog:
    """Every write, who made it, what and when: one JSON line per write in a file (if set) and
    on the ``hotline.audit`` logger. Numbers in the details are masked; tokens never appear."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def record(
        self,
        principal: Principal,
        action: str,
        target: str,
        details: Mapping[str, Any],
        *,
        status: int,
        error: str | None = None,
    ) -> None:
        """Append one audit entry (status is the HTTP status the write answered)."""
        entry = {
            "at": datetime.now(UTC).isoformat(),
            "who": principal.who,
            "action": action,
            "target": target,
            "details": dict(details),
            "status": status,
            "error": error,
        }
        line = mask_numbers_in_text(json.dumps(entry, ensure_ascii=False, default=str))
        audit_log.info("%s", line)
        if self.path is None:
            return
        async with self._lock:
            try:
                await asyncio.to_thread(self._append, self.path, line)
            except OSError as exc:
                log.error("audit log %s: %s", self.path, exc.strerror or exc)

    @staticmethod
    def _append(path: Path, line: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fp:
            fp.write(line + "\n")


__all__ = [
    "ANONYMOUS",
    "REALM",
    "Access",
    "ApiError",
    "AuditLog",
    "BearerAuth",
    "Principal",
]
