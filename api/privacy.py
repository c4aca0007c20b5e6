"""Sealing identifying details with AES-256-GCM before they enter the ledger.

A sealed value reads ``v1:<key id>:<base64url(nonce | ciphertext+tag)>``. The key id (the first 8
hex characters of the key's SHA-256) tells which key opens it, so keys can be rotated: new records
are sealed with the new key while old ones stay readable with the old. The aggregate id is bound
in as associated data, so a sealed value copied onto another donor does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Development only: Settings refuses it in production.
DEVELOPMENT_KEY = base64.b64encode(b"regentrace-development-key-32by!").decode()


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def decode_key(text: str) -> bytes:
    key = base64.b64decode(text, validate=True)
    if len(key) != 32:
        raise ValueError("the personal-data key must be 32 bytes, base64-encoded")
    return key


class AesGcmSealer:
    def __init__(self, keys: list[bytes]) -> None:
        """``keys[0]`` seals; every key in the list opens."""
        if not keys:
            raise ValueError("at least one key is needed")
        self._keys = {key_id(k): AESGCM(k) for k in keys}
        self._current = key_id(keys[0])

    def seal(self, plaintext: bytes, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext, context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"v1:{self._current}:{body}"

    def open(self, sealed: str, context: str) -> bytes:
        version, kid, body = sealed.split(":", 2)
        if version != "v1" or kid not in self._keys:
            raise ValueError(f"no key {kid!r} to open this value")
        raw = base64.urlsafe_b64decode(body)
        return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode())
