"""Signed checkpoints as real processes, on each database: ``regentrace checkpoint`` signs the
ledger's position and head hash, ``regentrace verify --checkpoint`` and the independent
``tools/verify_ledger_export.py --checkpoint`` prove the ledger still extends it. What the chain
alone cannot show (a tail cut off, every link recomputed after an edit) the checkpoint shows; a
ledger that grew after it still passes; an altered or forged checkpoint is refused.

The ledger is filled in this process through the ledger's commands and tampered with as an
insider would (tests/tamper.py); the commands then run against the same database.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from api.checkpoint import Checkpoint, public_key_pem, raw_public_key
from api.settings import Settings
from api.wiring import Regentrace
from tests.e2e.conftest import REGENTRACE, environment
from tests.integration import chain as c
from tests.integration.chain import LAB, NETWORK
from tests.tamper import rewrite_chain, tamper

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "tools" / "verify_ledger_export.py"
Run = subprocess.CompletedProcess[str]


class Cli:
    """``regentrace`` against the test's ledger, with settings of the test's choosing."""

    def __init__(self, database_url: str, cwd: Path) -> None:
        self.database_url, self.cwd = database_url, cwd

    def __call__(self, *args: str, **settings: str) -> Run:
        env = environment(self.database_url, **settings)
        if settings.get("environment") == "production":
            del env["REGENTRACE_DEV_PRINCIPAL_ENABLED"]
        return subprocess.run(
            [str(REGENTRACE), *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def cli(settings: Settings, tmp_path: Path) -> Cli:
    if not REGENTRACE.exists():
        pytest.fail(f"the regentrace command is not installed at {REGENTRACE}")
    return Cli(settings.database_url, tmp_path)


@pytest.fixture
def chain(service: Regentrace) -> c.Chain:
    built = c.build(service, "administered")
    c.report_adverse_event(built)
    return built


def independent(export: Path, *options: str) -> Run:
    """The inspector's own check: Python without site-packages (-S), isolated (-I)."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(VERIFIER), *options, str(export)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def take(cli: Cli, out: Path, **settings: str) -> dict[str, Any]:
    result = cli("checkpoint", "--out", str(out), **settings)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document


def export(cli: Cli, tmp_path: Path) -> Path:
    out = tmp_path / "ledger.jsonl"
    result = cli("export", "ledger", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def public_pem(cli: Cli, tmp_path: Path) -> Path:
    result = cli("checkpoint", "--public-key")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "checkpoint-key.pub.pem"
    path.write_text(result.stdout, encoding="ascii")
    return path


def head(service: Regentrace) -> tuple[int, str]:
    with service.read() as sql:
        row = sql.one("SELECT position, hash FROM ledger ORDER BY position DESC LIMIT 1")
    assert row is not None
    return int(row["position"]), str(row["hash"]).strip()


def delete_last_event(service: Regentrace) -> None:
    position, _ = head(service)
    tamper(service, "DELETE FROM ledger WHERE position = ?", (position,))
    tamper(service, "DELETE FROM stored_events WHERE notification_id = ?", (position,))


def alter_and_relink(service: Regentrace, p: int) -> None:
    with service.read() as sql:
        state = json.loads(
            bytes(sql.scalar("SELECT state FROM stored_events WHERE notification_id = ?", (p,)))
        )
    state["qualified_person"] = "forged-qp"
    edited = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    tamper(service, "UPDATE stored_events SET state = ? WHERE notification_id = ?", (edited, p))
    rewrite_chain(service, p - 1)


# ----------------------------------------------------------------------------- taking, listing


def test_a_checkpoint_signs_the_head_and_is_kept_in_the_list(cli, service, chain, tmp_path):
    first = take(cli, tmp_path / "first.json")
    service.app.sites.suspend_site(NETWORK, LAB, "audit finding")
    again = cli("checkpoint", "--out", str(tmp_path / "second.json"))
    second = json.loads((tmp_path / "second.json").read_text(encoding="utf-8"))
    listed = cli("checkpoint", "--list")
    pem = cli("checkpoint", "--public-key")

    assert (first["position"], first["head_hash"]) == (31, c_hash(service, 31))
    assert (second["position"], second["head_hash"]) == head(service)
    # The second verified only what the ledger grew since the first.
    assert "checkpoint: verifying, 1/1 events" in again.stderr
    for document in (first, second):
        checkpoint = Checkpoint.of_document(document)
        assert checkpoint.signature_holds()
        assert public_key_pem(checkpoint.public_key) == pem.stdout
    rows = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("1", "31", first["key_id"], first["head_hash"]),
        ("2", str(second["position"]), second["key_id"], second["head_hash"]),
    ]
    assert [r[2] for r in rows] == [first["signed_at"], second["signed_at"]]


def c_hash(service: Regentrace, position: int) -> str:
    with service.read() as sql:
        return str(sql.scalar("SELECT hash FROM ledger WHERE position = ?", (position,))).strip()


def test_a_ledger_that_does_not_verify_is_not_signed(cli, service, chain, tmp_path):
    tamper(service, "UPDATE ledger SET hash = ? WHERE position = ?", ("ab" * 32, 20))

    result = cli("checkpoint", "--out", str(tmp_path / "cp.json"))

    assert result.returncode == 1, result.stderr
    assert "checkpoint: FAILED, the ledger does not verify: position 20" in result.stderr
    assert not (tmp_path / "cp.json").exists()
    assert cli("checkpoint", "--list").stdout.splitlines()[1:] == []


def test_an_empty_ledger_has_nothing_to_sign(cli, service):
    result = cli("checkpoint")

    assert result.returncode == 1
    assert "the ledger is empty" in result.stderr


# ------------------------------------------------------------------ what a checkpoint proves


def test_a_ledger_that_grew_after_the_checkpoint_extends_it(cli, service, chain, tmp_path):
    checkpoint = tmp_path / "cp.json"
    take(cli, checkpoint)
    service.app.sites.suspend_site(NETWORK, LAB, "audit finding")
    service.app.sites.reinstate_site(NETWORK, LAB, "finding closed")
    key = public_pem(cli, tmp_path)

    verified = cli("verify", "--checkpoint", str(checkpoint))
    pinned = cli("verify", "--checkpoint", str(checkpoint), "--public-key", str(key))
    checked = independent(export(cli, tmp_path), "--checkpoint", str(checkpoint))
    checked_pinned = independent(
        tmp_path / "ledger.jsonl", "--checkpoint", str(checkpoint), "--public-key", str(key)
    )

    for result in (verified, pinned):
        assert result.returncode == 0, result.stderr
        assert "verify: OK, 33 events" in result.stderr
        assert "verify: OK, the ledger extends the checkpoint of position 31 signed" in (
            result.stderr
        )
    assert checked.returncode == 0, checked.stdout
    assert "OK: extends the checkpoint of position 31" in checked.stdout
    assert "pass --public-key to pin it" in checked.stdout
    assert checked_pinned.returncode == 0, checked_pinned.stdout
    assert "(the key given)" in checked_pinned.stdout


@pytest.mark.parametrize("removed", [1, 2])
def test_a_tail_removed_after_the_checkpoint_is_found(cli, service, chain, tmp_path, removed):
    checkpoint = tmp_path / "cp.json"
    take(cli, checkpoint)
    for _ in range(removed):
        delete_last_event(service)

    plain = cli("verify")
    verified = cli("verify", "--checkpoint", str(checkpoint))
    checked = independent(export(cli, tmp_path), "--checkpoint", str(checkpoint))

    # The chain alone holds: what is left is a good chain. The checkpoint tells.
    assert plain.returncode == 0, plain.stderr
    message = (
        f"the ledger ends at position {31 - removed}, before the checkpoint's position 31: "
        "events were removed from its end"
    )
    assert verified.returncode == 1, verified.stderr
    assert f"verify: FAILED: checkpoint of position 31: {message}" in verified.stderr
    assert checked.returncode == 1, checked.stdout
    assert f"FAILED: checkpoint of position 31: {message}" in checked.stdout


@pytest.mark.parametrize("p", [1, 23, 31])
def test_a_history_rewritten_before_the_checkpoint_is_found(cli, service, chain, tmp_path, p):
    checkpoint = tmp_path / "cp.json"
    take(cli, checkpoint)
    alter_and_relink(service, p)

    plain = cli("verify")
    verified = cli("verify", "--checkpoint", str(checkpoint))
    checked = independent(export(cli, tmp_path), "--checkpoint", str(checkpoint))
    unanchored = independent(tmp_path / "ledger.jsonl")

    assert plain.returncode == 0, "every link was recomputed: the chain alone holds"
    assert unanchored.returncode == 0, unanchored.stdout
    message = "position 31: the hash differs from the checkpoint's: the history up to it was"
    assert verified.returncode == 1, verified.stderr
    assert message in verified.stderr
    assert checked.returncode == 1, checked.stdout
    assert message in checked.stdout


def test_a_signed_event_replaced_by_a_later_one_is_found(cli, service, chain, tmp_path):
    """The checkpoint's event removed and the ledger grown past its position again: the chain
    and the positions hold, the signed position is gone."""
    checkpoint = tmp_path / "cp.json"
    take(cli, checkpoint)
    delete_last_event(service)
    service.app.sites.suspend_site(NETWORK, LAB, "audit finding")  # takes position 32, after 30

    plain = cli("verify")
    verified = cli("verify", "--checkpoint", str(checkpoint))
    checked = independent(export(cli, tmp_path), "--checkpoint", str(checkpoint))

    assert plain.returncode == 0, plain.stderr
    assert verified.returncode == 1, verified.stderr
    assert "position 31: the event the checkpoint signed is missing" in verified.stderr
    assert checked.returncode == 1, checked.stdout
    assert "position 31: the event the checkpoint signed is missing" in checked.stdout


# ------------------------------------------------------------- altered and forged checkpoints


def altered(document: dict[str, Any], field: str) -> dict[str, Any]:
    changed = dict(document)
    if field == "position":
        changed["position"] -= 1
    elif field == "signature":
        signature = bytearray(base64.b64decode(document["signature"]))
        signature[5] ^= 0x01
        changed["signature"] = base64.b64encode(bytes(signature)).decode()
    elif field == "head_hash":
        changed["head_hash"] = ("1" if document["head_hash"][0] == "0" else "0") + document[
            "head_hash"
        ][1:]
    else:  # signed_at: one microsecond later, in the same form
        text = document["signed_at"]
        changed["signed_at"] = text[:25] + str((int(text[25]) + 1) % 10) + text[26:]
    return changed


@pytest.mark.parametrize("field", ["position", "head_hash", "signed_at", "signature"])
def test_an_altered_checkpoint_is_refused(cli, service, chain, tmp_path, field):
    good = take(cli, tmp_path / "cp.json")
    checkpoint = tmp_path / "altered.json"
    checkpoint.write_text(json.dumps(altered(good, field)), encoding="utf-8")

    verified = cli("verify", "--checkpoint", str(checkpoint))
    checked = independent(export(cli, tmp_path), "--checkpoint", str(checkpoint))

    assert verified.returncode == 1, verified.stderr
    assert checked.returncode == 1, checked.stdout
    assert "the checkpoint's signature is not valid (altered or forged)" in verified.stderr
    assert "the signature is not valid (altered or forged)" in checked.stdout


def test_a_checkpoint_forged_with_another_key_is_refused_where_the_key_is_pinned(
    cli, service, chain, tmp_path
):
    """Someone who rewrote the ledger signs a checkpoint of the new head with a key of theirs."""
    take(cli, tmp_path / "cp.json")
    alter_and_relink(service, 23)
    position, forged_head = head(service)
    forger = Ed25519PrivateKey.generate()
    unsigned = Checkpoint(position, forged_head, utc_now(), raw_public_key(forger))
    forged = replace(unsigned, signature=forger.sign(unsigned.signed_text()))
    assert forged.signature_holds()
    checkpoint = tmp_path / "forged.json"
    checkpoint.write_text(json.dumps(forged.document()), encoding="utf-8")
    key = public_pem(cli, tmp_path)
    ledger = export(cli, tmp_path)

    verified = cli("verify", "--checkpoint", str(checkpoint))
    pinned = independent(ledger, "--checkpoint", str(checkpoint), "--public-key", str(key))
    by_base64 = independent(
        ledger,
        "--checkpoint",
        str(checkpoint),
        "--public-key",
        json.loads((tmp_path / "cp.json").read_text())["public_key"],
    )
    unpinned = independent(ledger, "--checkpoint", str(checkpoint))

    assert verified.returncode == 1, verified.stderr
    assert f"signed by key {forged.key_id}, not by a key trusted here" in verified.stderr
    for result in (pinned, by_base64):
        assert result.returncode == 1, result.stdout
        assert "signed with another key than the one given" in result.stdout
    # Without the key they were given, a verifier learns only who signed it.
    assert unpinned.returncode == 0, unpinned.stdout
    assert f"by key {forged.key_id} (the key it carries; pass --public-key" in unpinned.stdout


def utc_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


# -------------------------------------------------------------------------------------- keys


def production(**more: str) -> dict[str, str]:
    key = base64.b64encode(b"k" * 32).decode()
    return {"environment": "production", "personal_data_keys": key, **more}


def test_production_refuses_to_sign_without_a_key_of_its_own(cli, service, chain, tmp_path):
    from api.signing_keys import DEVELOPMENT_KEY

    no_key = cli("checkpoint", **production())
    development_key = cli("checkpoint", **production(checkpoint_key=DEVELOPMENT_KEY))

    assert no_key.returncode == 3, no_key.stderr
    assert "production signs checkpoints only with its own key" in no_key.stderr
    assert "REGENTRACE_CHECKPOINT_KEY_FILE" in no_key.stderr
    assert development_key.returncode != 0
    assert "REGENTRACE_CHECKPOINT_KEY is the development key" in development_key.stderr
    assert cli("checkpoint", "--list").stdout.splitlines()[1:] == []


@pytest.mark.parametrize("form", ["pem", "raw", "base64"])
def test_production_signs_with_the_key_file_it_is_given(cli, service, chain, tmp_path, form):
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "checkpoint-key"
    if form == "pem":
        path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    else:
        raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        path.write_bytes(raw if form == "raw" else base64.b64encode(raw) + b"\n")
    settings = production(checkpoint_key_file=str(path))

    document = take(cli, tmp_path / "cp.json", **settings)
    printed = cli("checkpoint", "--public-key", **settings)
    verified = cli("verify", "--checkpoint", str(tmp_path / "cp.json"), **settings)
    with_development_key = cli("verify", "--checkpoint", str(tmp_path / "cp.json"))

    assert base64.b64decode(document["public_key"]) == raw_public_key(key)
    assert printed.stdout == public_key_pem(raw_public_key(key))
    assert verified.returncode == 0, verified.stderr
    # Verified where another key signs, the checkpoint needs its key named.
    assert with_development_key.returncode == 1
    assert "not by a key trusted here" in with_development_key.stderr
