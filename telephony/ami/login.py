"""AMI login, both sides: the md5 challenge key, and the server's check of a ``Login`` action.

The client (:mod:`telephony.ami.connection`) sends ``Challenge`` then ``Login`` with
``AuthType: md5`` and ``Key: md5(challenge + secret)``, or ``Login`` with ``Secret`` in plain.
The AMI servers hotline runs itself (the simulator, ``hotline replay --serve``) accept both, as
Asterisk does.
"""

from __future__ import annotations

import hashlib
import hmac

from telephony.ami.codec import Frame


def md5_key(challenge: str, secret: str) -> str:
    """The ``Key`` of an md5 login: hex MD5 of the challenge followed by the secret."""
    digest = hashlib.md5((challenge + secret).encode("utf-8"), usedforsecurity=False)
    return digest.hexdigest()


def login_accepted(frame: Frame, *, secret: str, challenge: str | None) -> bool:
    """Whether a ``Login`` action carries ``secret``: plain, or md5 over the challenge sent."""
    if (frame.get("AuthType") or "").lower() == "md5":
        if challenge is None:
            return False
        key = (frame.get("Key") or "").lower()
        return hmac.compare_digest(key, md5_key(challenge, secret))
    return hmac.compare_digest((frame.get("Secret") or "").encode(), secret.encode())


__all__ = ["login_accepted", "md5_key"]
