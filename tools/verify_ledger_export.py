#!/usr/bin/env python3
"""Verify a regentrace ledger export without regentrace: Python 3 standard library only.

    python3 verify_ledger_export.py [--checkpoint FILE [--public-key KEY]] LEDGER.jsonl

The export (``regentrace export ledger``) is JSON Lines: a header line, then one line per event
in ledger order. For every event this script recomputes

    hash = SHA-256( prev_hash "\\n" position "\\n" originator_id "\\n" originator_version "\\n"
                    topic "\\n" recorded_at "\\n" SHA-256(state) )

(all hashes lowercase hex; the text UTF-8; recorded_at as written in the export, ISO 8601 in UTC
with microseconds; state the event's stored bytes, base64 in the export), compares it with the
hash the ledger stored, and checks every other field of the line against what is hashed: the
payload shown must be the decoding of the hashed bytes, the actor and role the ones inside them,
the record and event types the ones originator_id and topic name; each aggregate's versions run
1, 2, 3... with no gap; the header's until_position is the last event's position.
prev_hash of the first line is the header's "anchor" (64 zeros: an export starts at the first
event). It prints the head hash (to compare with one published earlier) or the first line that
fails, and exits 0 or 1.

With --checkpoint, a checkpoint signed by the ledger's operator (``regentrace checkpoint --out``)
must also hold: its Ed25519 signature is valid (for the public key given with --public-key, the
base64 key or a PEM file, or else the key the checkpoint carries), the export reaches its
position, and the hash there is the one it signed. A deleted tail or a rewritten history fails.
Ed25519 is verified here in pure Python (RFC 8032, section 5.1.7). See docs/ledger-chain.md.
"""

import argparse
import base64
import hashlib
import json
import os
import sys

FORMAT = "regentrace-ledger-export/1"
CHAIN = "sha256, see docs/ledger-chain.md"
GENESIS = "0" * 64
HEADER_FIELDS = {"format", "chain", "anchor", "until_position"}
EVENT_FIELDS = {
    "position",
    "originator_id",
    "originator_version",
    "aggregate_type",
    "event_type",
    "topic",
    "actor",
    "actor_role",
    "recorded_at",
    "state_base64",
    "payload",
    "hash",
}
TEXT_FIELDS = EVENT_FIELDS - {"position", "originator_version", "payload"}
CHECKPOINT_FORMAT = "regentrace-checkpoint/1"
CHECKPOINT_FIELDS = {
    "format",
    "position",
    "head_hash",
    "signed_at",
    "key_id",
    "algorithm",
    "public_key",
    "signature",
}
# An Ed25519 public key in a PEM file: this DER prefix (SubjectPublicKeyInfo), then the 32 bytes.
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class CheckFailedError(Exception):
    """A check failed; the message names the line or position."""


# ------------------------------------------------------------------------------- the export


def strict_json(text, where):
    """JSON as the export writes it; a key given twice would let two readers see two values."""

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        if len(keys) != len(set(keys)):
            raise CheckFailedError(f"{where}: a key appears twice")
        return dict(pairs)

    def no_constant(name):
        raise CheckFailedError(f"{where}: {name} is not JSON")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except ValueError:
        raise CheckFailedError(f"{where}: not JSON") from None


def canonical(value):
    """One text per JSON value (json.loads makes 1 == 1.0 == true; this text does not)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def is_hex64(value):
    return isinstance(value, str) and len(value) == 64 and set(value) <= set("0123456789abcdef")


def link(prev_hash, event, state):
    line = "\n".join(
        [
            prev_hash,
            str(event["position"]),
            event["originator_id"],
            str(event["originator_version"]),
            event["topic"],
            event["recorded_at"],
            hashlib.sha256(state).hexdigest(),
        ]
    )
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def read_header(text):
    header = strict_json(text, "line 1 (header)")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckFailedError(f"line 1 (header): not a {FORMAT} export")
    if set(header) != HEADER_FIELDS:
        raise CheckFailedError(f"line 1 (header): fields are not {sorted(HEADER_FIELDS)}")
    if header["chain"] != CHAIN:
        raise CheckFailedError(f"line 1 (header): chain is not {CHAIN!r}")
    if header["anchor"] != GENESIS:
        raise CheckFailedError(
            "line 1 (header): anchor is not 64 zeros (exports start at position 1)"
        )
    until = header["until_position"]
    if type(until) is not int or until < 0:
        raise CheckFailedError("line 1 (header): until_position is not a position")
    return header


def read_event(text, number):
    event = strict_json(text, f"line {number}")
    if not isinstance(event, dict):
        raise CheckFailedError(f"line {number}: not an event")
    position = event.get("position")
    if type(position) is not int or position < 1:
        raise CheckFailedError(f"line {number}: position is not a position")
    where = f"line {number}, position {position}"
    if set(event) != EVENT_FIELDS:
        raise CheckFailedError(f"{where}: fields are not those of an event line")
    if type(event["originator_version"]) is not int:
        raise CheckFailedError(f"{where}: originator_version is not an integer")
    for name in sorted(TEXT_FIELDS):
        if not isinstance(event[name], str):
            raise CheckFailedError(f"{where}: {name} is not text")
    try:
        state = base64.b64decode(event["state_base64"], validate=True)
    except ValueError:
        state = None
    if state is None or base64.b64encode(state).decode() != event["state_base64"]:
        raise CheckFailedError(f"{where}: state_base64 is not the base64 of the stored bytes")
    return event, state


def check_shown(event, state, where):
    """Every field a reader reads beside the hashed ones must say what the hashed bytes say."""
    try:
        text = state.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckFailedError(f"{where}: state is not UTF-8") from None
    content = strict_json(text, f"{where}: state")
    if not isinstance(content, dict):
        raise CheckFailedError(f"{where}: state is not a JSON object")
    if canonical(event["payload"]) != canonical(content):
        raise CheckFailedError(f"{where}: payload differs from the hashed content (state_base64)")
    if (event["actor"], event["actor_role"]) != (content.get("actor"), content.get("actor_role")):
        raise CheckFailedError(f"{where}: actor differs from the event's content")
    if event["aggregate_type"] != event["originator_id"].split(":", 1)[0]:
        raise CheckFailedError(f"{where}: aggregate_type differs from the type originator_id names")
    if event["event_type"] != event["topic"].rsplit(":", 1)[-1]:
        raise CheckFailedError(f"{where}: event_type differs from the type topic names")


class Walk:
    """The walk along the export: the last link, each aggregate's last version, and the hash at
    the position a checkpoint names."""

    def __init__(self, header, wanted):
        self.header = header
        self.prev_hash = header["anchor"]
        self.position = 0
        self.count = 0
        self.versions = {}
        self.wanted = wanted
        self.found = None

    def step(self, text, number):
        event, state = read_event(text, number)
        position = event["position"]
        where = f"line {number}, position {position}"
        if link(self.prev_hash, event, state) != event["hash"]:
            raise CheckFailedError(f"{where}: hash does not match (altered or reordered)")
        if position <= self.position:
            raise CheckFailedError(f"{where}: not after position {self.position}")
        check_shown(event, state, where)
        aggregate, version = event["originator_id"], event["originator_version"]
        if version != self.versions.get(aggregate, 0) + 1:
            raise CheckFailedError(f"{where}: {aggregate} version gap before {version}")
        self.versions[aggregate] = version
        if position == self.wanted:
            self.found = event["hash"]
        self.prev_hash, self.position = event["hash"], position
        self.count += 1

    def end(self):
        until = self.header["until_position"]
        if self.position != until:
            raise CheckFailedError(
                f"line 1 (header): until_position is {until} but the last event is at position "
                f"{self.position} (lines removed from the end, or added?)"
            )


def verify(lines, wanted=None):
    """(None, the walk) when the export verifies, else (what failed, the walk so far)."""
    walk = None
    try:
        first = next(lines, None)
        if first is None:
            raise CheckFailedError("line 1 (header): the file is empty")
        walk = Walk(read_header(first), wanted)
        for number, text in enumerate(lines, start=2):
            walk.step(text, number)
        walk.end()
    except CheckFailedError as failure:
        return str(failure), walk
    return None, walk


# --------------------------------------------------------------------- Ed25519 (RFC 8032 5.1.7)

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e, f = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    c, d = t1 * 2 * D * t2 % P, z1 * 2 * z2 % P
    e, f, g, h = f - e, d - c, d + c, f + e
    return e * f % P, g * h % P, f * g % P, e * h % P


def _multiply(scalar, point):
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _same(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    return P - x if (x & 1) != sign else x


def _point(data):
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


BASE = _point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))


def ed25519_verify(public_key, message, signature):
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a, r = _point(public_key), _point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = hashlib.sha512(signature[:32] + public_key + message).digest()
    return _same(_multiply(s, BASE), _add(r, _multiply(int.from_bytes(k, "little") % L, a)))


# ------------------------------------------------------------------------------ checkpoints


def signed_text(checkpoint):
    """The bytes a checkpoint's signature covers (docs/ledger-chain.md)."""
    fields = ("format", "position", "head_hash", "signed_at", "key_id")
    return "\n".join(str(checkpoint[f]) for f in fields).encode("utf-8")


def public_key_of(text):
    """A public key given as base64 (32 bytes) or as a file holding that or a PEM key."""
    if os.path.isfile(text):
        with open(text, encoding="ascii") as file:
            text = file.read()
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        key = base64.b64decode(body, validate=True)
    except ValueError:
        key = b""
    if len(key) == len(SPKI_PREFIX) + 32 and key.startswith(SPKI_PREFIX):
        key = key[len(SPKI_PREFIX) :]
    if len(key) != 32:
        raise CheckFailedError("--public-key is not an Ed25519 public key (base64 or PEM)")
    return key


def read_checkpoint(path, pinned):
    with open(path, encoding="utf-8") as file:
        checkpoint = strict_json(file.read(), f"checkpoint {path}")
    if not isinstance(checkpoint, dict) or set(checkpoint) != CHECKPOINT_FIELDS:
        raise CheckFailedError(f"checkpoint {path}: not a {CHECKPOINT_FORMAT} checkpoint")
    if checkpoint["format"] != CHECKPOINT_FORMAT or checkpoint["algorithm"] != "Ed25519":
        raise CheckFailedError(f"checkpoint {path}: not a {CHECKPOINT_FORMAT} Ed25519 checkpoint")
    position = checkpoint["position"]
    if type(position) is not int or position < 1 or not is_hex64(checkpoint["head_hash"]):
        raise CheckFailedError(f"checkpoint {path}: position or head_hash malformed")
    try:
        key = base64.b64decode(checkpoint["public_key"], validate=True)
        signature = base64.b64decode(checkpoint["signature"], validate=True)
    except (ValueError, TypeError):
        raise CheckFailedError(
            f"checkpoint {path}: public_key or signature is not base64"
        ) from None
    if pinned is not None and key != pinned:
        raise CheckFailedError(f"checkpoint {path}: signed with another key than the one given")
    if checkpoint["key_id"] != hashlib.sha256(key).hexdigest()[:16]:
        raise CheckFailedError(f"checkpoint {path}: key_id is not the public key's")
    if not ed25519_verify(key, signed_text(checkpoint), signature):
        raise CheckFailedError(f"checkpoint {path}: the signature is not valid (altered or forged)")
    return checkpoint


def check_extends(checkpoint, head_position, found):
    """The export must reach the checkpoint's position and hold the hash it signed there."""
    position = checkpoint["position"]
    if head_position < position:
        raise CheckFailedError(
            f"the ledger ends at position {head_position}, before the checkpoint's position "
            f"{position}: events were removed from its end"
        )
    if found is None:
        raise CheckFailedError(f"position {position}: the event the checkpoint signed is missing")
    if found != checkpoint["head_hash"]:
        raise CheckFailedError(
            f"position {position}: the hash differs from the checkpoint's: the history up to "
            "it was rewritten"
        )


# ---------------------------------------------------------------------------------------- main


def arguments(argv):
    parser = argparse.ArgumentParser(
        prog="verify_ledger_export.py",
        description="Verify a regentrace ledger export (docs/ledger-chain.md).",
    )
    parser.add_argument("export", help="the JSON Lines file `regentrace export ledger` wrote")
    parser.add_argument("--checkpoint", help="a signed checkpoint the ledger must extend")
    parser.add_argument("--public-key", help="the checkpoint key you were given (base64 or PEM)")
    return parser.parse_args(argv)


def main(argv):
    args = arguments(argv)
    try:
        pinned = public_key_of(args.public_key) if args.public_key else None
        checkpoint = read_checkpoint(args.checkpoint, pinned) if args.checkpoint else None
    except (CheckFailedError, OSError) as error:
        print(f"FAILED: {error}")
        return 1
    wanted = checkpoint["position"] if checkpoint else None
    with open(args.export, encoding="utf-8") as export:
        problem, walk = verify(iter(export), wanted)
    if problem is not None:
        print(f"FAILED after {walk.count if walk else 0} good events: {problem}")
        return 1
    if checkpoint is not None:
        try:
            check_extends(checkpoint, walk.position, walk.found)
        except CheckFailedError as failure:
            print(f"FAILED: checkpoint of position {wanted}: {failure}")
            return 1
    print(f"OK: {walk.count} events verified; head hash {walk.prev_hash}")
    if checkpoint is not None:
        pin = "the key given" if pinned else "the key it carries; pass --public-key to pin it"
        print(
            f"OK: extends the checkpoint of position {wanted} signed {checkpoint['signed_at']} "
            f"by key {checkpoint['key_id']} ({pin})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
