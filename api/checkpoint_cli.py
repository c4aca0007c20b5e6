"""``regentrace checkpoint`` (sign the ledger's head, list the checkpoints, show the public key)
and the ``--checkpoint`` option of ``regentrace verify``. The checkpoints themselves:
api/checkpoint.py."""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.checkpoint import (
    Checkpoint,
    CheckpointError,
    LedgerNotIntactError,
    extends,
    find_checkpoints,
    key_id,
    load,
    public_key_pem,
    raw_public_key,
    read_public_key,
    signing_key,
    take,
)
from projections.sql import iso_utc

if TYPE_CHECKING:
    from api.settings import Settings
    from api.wiring import Regentrace


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_checkpoint_command(commands: Any) -> None:
    checkpoint = commands.add_parser(
        "checkpoint", help="sign the ledger's position and head hash (Ed25519)"
    )
    checkpoint.description = (
        "Verify the chain (from the last checkpoint on), then sign the ledger's head position and "
        "hash with the Ed25519 key of REGENTRACE_CHECKPOINT_KEY_FILE (a development key on a "
        "development machine), keep the checkpoint in the list of checkpoints and print it as "
        "JSON. Hand it to a regulator: `regentrace verify --checkpoint FILE` and "
        "tools/verify_ledger_export.py --checkpoint FILE prove the ledger still extends it. "
        "Exit status 1 if the ledger does not verify (nothing is signed)."
    )
    what = checkpoint.add_mutually_exclusive_group()
    what.add_argument("--out", help="write the checkpoint to this file (default: standard output)")
    what.add_argument(
        "--list", action="store_true", help="list the checkpoints taken, oldest first"
    )
    what.add_argument(
        "--public-key", action="store_true", help="print the public key (PEM) that verifies them"
    )
    checkpoint.set_defaults(run=cmd_checkpoint)


def add_verify_options(verify: argparse.ArgumentParser) -> None:
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a signed checkpoint the ledger must still extend (exit 1 if it does not)",
    )
    verify.add_argument(
        "--public-key",
        metavar="KEY",
        help="the key the checkpoint must be signed with, base64 or a PEM file "
        "(default: the key this installation signs with)",
    )


def _service(settings: Settings) -> Regentrace:
    from api.wiring import Regentrace, migrate

    if not settings.is_production:
        migrate(settings.database)  # production expects `regentrace migrate` to have run
    return Regentrace(settings)


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from api.cli import _settings

    settings = _settings()
    try:
        key = signing_key(settings)
    except CheckpointError as error:
        _say(f"checkpoint: {error}")
        return 3  # configuration: no key, or one that cannot be used
    if args.public_key:
        public = raw_public_key(key)
        sys.stdout.write(public_key_pem(public))
        _say(f"checkpoint: key id {key_id(public)}; in base64: {base64.b64encode(public).decode()}")
        return 0
    service = _service(settings)
    try:
        if args.list:
            return _list(service)
        return _take(service, key, args.out)
    finally:
        service.close()


def _take(service: Regentrace, key: Any, out: str | None) -> int:
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        _say(f"checkpoint: verifying, {done:,}/{total:,} events")

    try:
        checkpoint = take(service, key, progress)
    except LedgerNotIntactError as error:
        _say(f"checkpoint: FAILED, the ledger does not verify: {error}")
        return 1
    except CheckpointError as error:
        _say(f"checkpoint: {error}")
        return 1
    text = json.dumps(checkpoint.document(), indent=2) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    _say(
        f"checkpoint: {checkpoint.checkpoint_id} signed in {time.perf_counter() - started:.2f}s: "
        f"position {checkpoint.position}, head hash {checkpoint.head_hash}, key "
        f"{checkpoint.key_id}" + (f"; written to {out}" if out else "")
    )
    return 0


def _list(service: Regentrace) -> int:
    print("id\tposition\tsigned at\tkey id\thead hash")
    after: int | None = None
    while True:
        with service.read() as sql:
            page = find_checkpoints(sql, after, 500)
        for c in page:
            print(
                f"{c.checkpoint_id}\t{c.position}\t{iso_utc(c.signed_at)}\t{c.key_id}\t"
                f"{c.head_hash}"
            )
        if len(page) < 500:
            return 0
        after = page[-1].checkpoint_id


def checkpoint_outcome(
    args: argparse.Namespace, settings: Settings, service: Regentrace
) -> tuple[bool, str] | None:
    """For ``verify --checkpoint``: whether the ledger extends the checkpoint, and what to say
    (None without --checkpoint)."""
    if not args.checkpoint:
        return None
    try:
        trusted = (
            [read_public_key(args.public_key)]
            if args.public_key
            else [raw_public_key(signing_key(settings))]
        )
        checkpoint = load(args.checkpoint, trusted)
    except CheckpointError as error:
        return False, f"verify: FAILED: checkpoint {args.checkpoint}: {error}"
    problem = extends(service.read, checkpoint)
    if problem is not None:
        return False, f"verify: FAILED: checkpoint of position {checkpoint.position}: {problem}"
    return True, f"verify: OK, the ledger extends {_describe(checkpoint)}"


def _describe(checkpoint: Checkpoint) -> str:
    return (
        f"the checkpoint of position {checkpoint.position} signed "
        f"{iso_utc(checkpoint.signed_at)} by key {checkpoint.key_id}"
    )
