"""``regentrace verify`` (recompute the hash chain, prove a signed checkpoint still holds),
``regentrace export ledger`` (the ledger as JSON Lines for verification without regentrace) and
``regentrace checkpoint`` (sign the ledger's head, list the checkpoints, show the public key).
The checkpoints themselves: api/checkpoint.py."""

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
from api.cli.common import load_settings, moment, say
from api.cli.errors import Exit
from projections.sql import iso_utc

if TYPE_CHECKING:
    from api.settings import Settings
    from api.wiring import Regentrace


def add_ledger_export(exports: Any) -> None:
    """Register ``ledger`` under ``regentrace export``."""
    ledger = exports.add_parser("ledger", help="the ledger as JSON Lines, hash chain included")
    ledger.description = (
        "Export every event up to a moment with its ledger time and hash, for verification "
        "without regentrace: tools/verify_ledger_export.py, docs/ledger-chain.md."
    )
    ledger.add_argument("--until", help="last moment to include (default: everything)")
    ledger.add_argument("--out", help="file to write (default: standard output)")
    ledger.set_defaults(run=cmd_export_ledger)


def add_verify(commands: Any) -> None:
    verify = commands.add_parser("verify", help="recompute the hash chain; exit 1 on tampering")
    verify.description = (
        "Recompute the SHA-256 chain over the stored events and check every aggregate's version "
        "continuity; report the first position that fails. Exit status 0 when intact, 1 if not, "
        "4 if the database cannot be read."
    )
    verify.add_argument("--from", dest="from_position", type=int, help="first position")
    verify.add_argument("--to", dest="to_position", type=int, help="last position")
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
    verify.set_defaults(run=cmd_verify)


def cmd_export_ledger(args: argparse.Namespace) -> int:
    from api import export
    from api.wiring import Regentrace

    service = Regentrace(load_settings())
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        count = export.write_ledger(
            service,
            out,
            moment(args.until, end_of_day=True),
            lambda n: say(f"export: {n:,} events written"),
        )
    finally:
        if args.out:
            out.close()
        service.close()
    say(f"export: done, {count:,} events; verify with tools/verify_ledger_export.py")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from api.wiring import Regentrace
    from projections.audit import verify

    settings = load_settings()
    service = Regentrace(settings)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        say(f"verify: {done:,}/{total:,} events, {rate:,.0f} events/s")

    result = verify(service.read, args.from_position, args.to_position, progress)
    extended = checkpoint_outcome(args, settings, service) if result.ok else None
    service.close()
    elapsed = time.perf_counter() - started
    if result.ok:
        say(
            f"verify: OK, {result.checked_events:,} events in {elapsed:.2f}s; head position "
            f"{result.head_position}, head hash {result.head_hash}"
        )
        if extended is not None:
            say(extended[1])
        return 0 if extended is None or extended[0] else 1
    say(
        f"verify: FAILED at position {result.first_mismatch_position}: {result.problem} "
        f"({result.checked_events:,} events checked before it)"
    )
    return Exit.FAILED  # tampering: 1, distinct from a database that cannot be read (4)


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


def _service(settings: Settings) -> Regentrace:
    from api.wiring import Regentrace, migrate

    if not settings.is_production:
        migrate(settings.database)  # production expects `regentrace migrate` to have run
    return Regentrace(settings)


def cmd_checkpoint(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        key = signing_key(settings)
    except CheckpointError as error:
        say(f"checkpoint: {error}")
        return 3  # configuration: no key, or one that cannot be used
    if args.public_key:
        public = raw_public_key(key)
        sys.stdout.write(public_key_pem(public))
        say(f"checkpoint: key id {key_id(public)}; in base64: {base64.b64encode(public).decode()}")
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
        say(f"checkpoint: verifying, {done:,}/{total:,} events")

    try:
        checkpoint = take(service, key, progress)
    except LedgerNotIntactError as error:
        say(f"checkpoint: FAILED, the ledger does not verify: {error}")
        return 1
    except CheckpointError as error:
        say(f"checkpoint: {error}")
        return 1
    text = json.dumps(checkpoint.document(), indent=2) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    say(
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
