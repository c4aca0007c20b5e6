"""The pure-Python Ed25519 verification of tools/verify_ledger_export.py (standard library only,
RFC 8032 section 5.1.7) against RFC 8032's test vectors and against the ``cryptography`` package
regentrace signs checkpoints with."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

TOOL = Path(__file__).resolve().parents[2] / "tools" / "verify_ledger_export.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_ledger_export", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# RFC 8032 section 7.1, tests 1-3: (secret key, public key, message, signature).
VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
        "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290"
        "ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), VECTORS)
def test_the_rfc_8032_vectors_verify_and_one_bit_off_does_not(
    tool, secret, public, message, signature
):
    key, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    derived = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret)).public_key()

    assert derived.public_bytes(Encoding.Raw, PublicFormat.Raw) == key
    assert tool.ed25519_verify(key, msg, sig)
    assert not tool.ed25519_verify(key, msg + b"\x00", sig)
    for index in (0, 31, 32, 63):
        flipped = bytearray(sig)
        flipped[index] ^= 0x01
        assert not tool.ed25519_verify(key, msg, bytes(flipped))


def test_it_agrees_with_the_cryptography_package_on_fresh_keys(tool):
    for size in (0, 1, 64, 300):
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        message = os.urandom(size)
        signature = key.sign(message)
        other = (
            Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        )

        assert tool.ed25519_verify(public, message, signature)
        assert not tool.ed25519_verify(other, message, signature)


def test_malformed_keys_and_signatures_are_refused(tool):
    _, public, message, signature = (bytes.fromhex(v) for v in VECTORS[1])
    s_too_large = signature[:32] + (2**253).to_bytes(32, "little")

    assert not tool.ed25519_verify(public[:31], message, signature)
    assert not tool.ed25519_verify(public, message, signature[:63])
    assert not tool.ed25519_verify(public, message, s_too_large)
    assert not tool.ed25519_verify(b"\xff" * 32, message, signature)  # y >= p: no point
