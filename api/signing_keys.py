"""The checkpoint signing key's material: the development seed and how a key's base64 is read.

Kept apart from api/checkpoint.py so that the settings can check REGENTRACE_CHECKPOINT_KEY
without importing the checkpoints, which take the settings (no import circle).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

# Signs only on a development machine: Settings refuses it in production.
DEVELOPMENT_SEED = hashlib.sha256(b"regentrace development checkpoint key").digest()
DEVELOPMENT_KEY = base64.b64encode(DEVELOPMENT_SEED).decode()


def decode_seed(text: str, what: str = "REGENTRACE_CHECKPOINT_KEY") -> bytes:
    """An Ed25519 private key's 32 bytes from their base64."""
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != 32:
        raise ValueError(f"{what} is not 32 bytes in base64 (an Ed25519 private key)")
    return seed
