"""Signed checkpoints: the ledger's position and head hash, signed with an Ed25519 key.

The hash chain shows any change inside the ledger, but not a ledger cut short at its end, nor
one whose every link was recomputed after an edit: both are chains that hold. A checkpoint held
outside the ledger (by a regulator, in a partner's archive) does: the ledger must still reach
its position and hold its hash there. The signature lets anyone with the public key check that
the checkpoint is the operator's. Its text and checks are specified in docs/ledger-chain.md, and
tools/verify_ledger_export.py checks one against an export without regentrace.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.signing_keys import DEVELOPMENT_SEED, decode_seed
from projections.sql import Sql, iso_utc

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from api.settings import Settings
    from api.wiring import Regentrace
    from projections.audit import Progress

FORMAT = "regentrace-checkpoint/1"
ALGORITHM = "Ed25519"
FIELDS = ("format", "position", "head_hash", "signed_at", "key_id", "algorithm")
# An Ed25519 public key in DER (SubjectPublicKeyInfo): this prefix, then its 32 bytes.
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")

Reader = Callable[[], AbstractContextManager[Sql]]


class CheckpointError(Exception):
    """A key or checkpoint that cannot be used; the message says why and what to do."""


class LedgerNotIntactError(Exception):
    """The ledger failed verification: no checkpoint is signed over it."""


def key_id(public_key: bytes) -> str:
    """The key's fingerprint: the first 16 hex digits of the SHA-256 of its 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Checkpoint:
    position: int
    head_hash: str
    signed_at: datetime
    public_key: bytes
    signature: bytes = b""
    checkpoint_id: int | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def signed_text(self) -> bytes:
        """format, position, head hash, time and key id, one per line (no final line feed)."""
        values = (FORMAT, self.position, self.head_hash, iso_utc(self.signed_at), self.key_id)
        return "\n".join(str(v) for v in values).encode()

    def document(self) -> dict[str, Any]:
        """The checkpoint as handed over: JSON, everything a verifier needs but the trust."""
        return {
            "format": FORMAT,
            "position": self.position,
            "head_hash": self.head_hash,
            "signed_at": iso_utc(self.signed_at),
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "public_key": _b64(self.public_key),
            "signature": _b64(self.signature),
        }

    def signature_holds(self) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                self.signature, self.signed_text()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> Checkpoint:
        return cls(
            position=int(row["position"]),
            head_hash=str(row["head_hash"]).strip(),
            signed_at=row["signed_at"],
            public_key=base64.b64decode(row["public_key"]),
            signature=base64.b64decode(row["signature"]),
            checkpoint_id=int(row["checkpoint_id"]),
        )

    @classmethod
    def of_document(cls, document: Any) -> Checkpoint:
        """A checkpoint from its JSON; refuses anything but exactly the fields it signs."""
        if not isinstance(document, dict) or set(document) != {*FIELDS, "public_key", "signature"}:
            raise CheckpointError(f"not a {FORMAT} checkpoint")
        if (document["format"], document["algorithm"]) != (FORMAT, ALGORITHM):
            raise CheckpointError(f"not a {FORMAT} {ALGORITHM} checkpoint")
        try:
            found = cls(
                position=_position(document["position"]),
                head_hash=_hex64(document["head_hash"]),
                signed_at=datetime.fromisoformat(document["signed_at"]),
                public_key=base64.b64decode(document["public_key"], validate=True),
                signature=base64.b64decode(document["signature"], validate=True),
            )
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"a field of the checkpoint is malformed ({error})") from None
        if found.signed_at.tzinfo is None or iso_utc(found.signed_at) != document["signed_at"]:
            raise CheckpointError("signed_at is not in the form the checkpoint signs")
        if document["key_id"] != found.key_id:
            raise CheckpointError("key_id is not the fingerprint of public_key")
        return found


def _position(value: Any) -> int:
    if type(value) is not int or value < 1:
        raise ValueError("position is not a ledger position")
    return value


def _hex64(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 64 or set(value) - set("0123456789abcdef"):
        raise ValueError("head_hash is not 64 lowercase hexadecimal digits")
    return value


# ---------------------------------------------------------------------------------------- keys


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key checkpoints are signed with: the configured one, or on a development machine a
    fixed development key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if settings.checkpoint_key_file:
        key = _key_from_file(Path(settings.checkpoint_key_file))
    elif settings.checkpoint_key:
        key = Ed25519PrivateKey.from_private_bytes(decode_seed(settings.checkpoint_key))
    elif settings.is_production:
        raise CheckpointError(
            "production signs checkpoints only with its own key: set "
            "REGENTRACE_CHECKPOINT_KEY_FILE to an Ed25519 private key "
            "(`openssl genpkey -algorithm ed25519 -out checkpoint-key.pem`)"
        )
    else:
        key = Ed25519PrivateKey.from_private_bytes(DEVELOPMENT_SEED)
    if settings.is_production and raw_public_key(key) == development_public_key():
        raise CheckpointError("the checkpoint key is the development key; production refuses it")
    return key


def _key_from_file(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"cannot read REGENTRACE_CHECKPOINT_KEY_FILE: {error}") from None
    try:
        if b"-----BEGIN" in data:
            key = load_pem_private_key(data, password=None)
        else:
            seed = data if len(data) == 32 else decode_seed(data.decode("ascii"), str(path))
            key = Ed25519PrivateKey.from_private_bytes(seed)
    except (ValueError, TypeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} holds no usable private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} holds a private key that is not Ed25519")
    return key


def raw_public_key(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def development_public_key() -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return raw_public_key(Ed25519PrivateKey.from_private_bytes(DEVELOPMENT_SEED))


def public_key_pem(public_key: bytes) -> str:
    body = _b64(SPKI_PREFIX + public_key)
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def read_public_key(text: str) -> bytes:
    """A public key as given to a verifier: its 32 bytes in base64, or a file holding that or
    its PEM (what ``regentrace checkpoint --public-key`` prints)."""
    path = Path(text)
    if path.is_file():
        text = path.read_text(encoding="ascii")
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) == len(SPKI_PREFIX) + 32 and key.startswith(SPKI_PREFIX):
        key = key[len(SPKI_PREFIX) :]
    if len(key) != 32:
        raise CheckpointError(f"{text!r} is not an Ed25519 public key (base64 or PEM)")
    return key


# ------------------------------------------------------------------------------ taking, listing


def sign(key: Ed25519PrivateKey, position: int, head_hash: str) -> Checkpoint:
    unsigned = Checkpoint(position, head_hash, datetime.now(UTC), raw_public_key(key))
    return replace(unsigned, signature=key.sign(unsigned.signed_text()))


def store(sql: Sql, checkpoint: Checkpoint) -> Checkpoint:
    identifier = sql.scalar(
        "INSERT INTO checkpoints (position, head_hash, signed_at, key_id, public_key, signature)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING checkpoint_id",
        (
            checkpoint.position,
            checkpoint.head_hash,
            checkpoint.signed_at,
            checkpoint.key_id,
            _b64(checkpoint.public_key),
            _b64(checkpoint.signature),
        ),
    )
    return replace(checkpoint, checkpoint_id=int(identifier))


def find_checkpoints(sql: Sql, after: int | None = None, limit: int = 100) -> list[Checkpoint]:
    """Checkpoints in the order they were taken, after the one numbered ``after``."""
    rows = sql.all(
        "SELECT checkpoint_id, position, head_hash, signed_at, public_key, signature"
        " FROM checkpoints WHERE checkpoint_id > ? ORDER BY checkpoint_id LIMIT ?",
        (after or 0, limit),
    )
    return [Checkpoint.of_row(row) for row in rows]


def last_checkpoint(sql: Sql, public_key: bytes) -> Checkpoint | None:
    """The latest checkpoint this key signed whose signature holds."""
    rows = sql.all(
        "SELECT checkpoint_id, position, head_hash, signed_at, public_key, signature"
        " FROM checkpoints WHERE key_id = ? ORDER BY checkpoint_id DESC LIMIT 20",
        (key_id(public_key),),
    )
    found = (Checkpoint.of_row(row) for row in rows)
    return next((c for c in found if c.public_key == public_key and c.signature_holds()), None)


def take(service: Regentrace, key: Ed25519PrivateKey, progress: Progress) -> Checkpoint:
    """Verify the chain, then sign and keep its head. The chain is verified from this key's last
    checkpoint on (that checkpoint still extended, and the link out of it checked), so a
    scheduled checkpoint costs what the ledger grew since the one before."""
    from projections.audit import verify

    with service.read() as sql:
        last = last_checkpoint(sql, raw_public_key(key))
    if last is not None and (problem := extends(service.read, last)) is not None:
        raise LedgerNotIntactError(
            f"the ledger no longer extends checkpoint {last.checkpoint_id}: {problem}"
        )
    result = verify(service.read, last.position + 1 if last else None, progress=progress)
    if not result.ok:
        raise LedgerNotIntactError(
            f"position {result.first_mismatch_position}: {result.problem}; nothing signed"
        )
    if result.head_position == 0:
        raise CheckpointError("the ledger is empty: there is nothing to sign yet")
    checkpoint = sign(key, result.head_position, result.head_hash.strip())
    with service.recorder.write() as sql:
        return store(sql, checkpoint)


# ----------------------------------------------------------------------------------- checking


def load(path: str, trusted: list[bytes]) -> Checkpoint:
    """A checkpoint file whose signature holds for one of the ``trusted`` public keys."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read the checkpoint {path}: {error}") from None
    checkpoint = Checkpoint.of_document(document)
    if checkpoint.public_key not in trusted:
        raise CheckpointError(
            f"the checkpoint is signed by key {checkpoint.key_id}, not by a key trusted here "
            "(pass the key it should be with --public-key)"
        )
    if not checkpoint.signature_holds():
        raise CheckpointError("the checkpoint's signature is not valid (altered or forged)")
    return checkpoint


def extends(read: Reader, checkpoint: Checkpoint) -> str | None:
    """Why the ledger does not extend ``checkpoint`` (None when it does): it must reach the
    checkpoint's position and hold the signed hash there."""
    with read() as sql:
        head = int(sql.scalar("SELECT COALESCE(MAX(position), 0) FROM ledger"))
        stored = sql.scalar("SELECT hash FROM ledger WHERE position = ?", (checkpoint.position,))
    if head < checkpoint.position:
        return (
            f"the ledger ends at position {head}, before the checkpoint's position "
            f"{checkpoint.position}: events were removed from its end"
        )
    if stored is None:
        return f"position {checkpoint.position}: the event the checkpoint signed is missing"
    if str(stored).strip() != checkpoint.head_hash:
        return (
            f"position {checkpoint.position}: the hash differs from the checkpoint's: the "
            "history up to it was rewritten"
        )
    return None
