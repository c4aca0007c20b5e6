"""``regentrace import FILE.jsonl``: a backlog of commands sent to a server in batches (ADR 10).

Each line of the file is one command, as a batch carries it: ``{"commandId": ..., "mutation":
..., "input": {...}}``. The file is read and checked whole before anything is sent; the commands
then go to ``submitCommands`` in batches of ``--batch-size``, in order, and stop at the first
refusal. Every command has its id, so the import is resumable: run it again after an interruption
(a refusal corrected, a lost connection, a killed process) and what is stored already is answered
ALREADY_DONE and stored once.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from api.cli.common import say
from api.cli.errors import CommandError, Exit

API_KEY_VARIABLE = "REGENTRACE_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000/graphql"
SUBMIT = """
mutation Import($input: SubmitCommandsInput!) {
  submitCommands(input: $input) {
    stored
    outcomes { commandId status result { position } error { code message field } }
  }
}
"""
EXAMPLE = """\
Example (one command per line):

  {"commandId": "mu-7:0001", "mutation": "recordBatchStep", "input": {"batchId": "B-17",
   "step": "Expansion", "siteId": "TW-MU-HSINCHU", "startedAt": "2026-03-02T08:00:00+08:00",
   "completedAt": "2026-03-02T09:30:00+08:00", "operator": "op-12", "materialLots": []}}

  REGENTRACE_API_KEY=rt_... regentrace import --url https://ledger.example/graphql backlog.jsonl

Run it again after an interruption: stored commands answer ALREADY_DONE and are stored once.
Exit status: 0 every command stored (now or before); 1 a command was refused (the line is
named, nothing after it was sent: correct it and run again); 2 usage (the file or a line of it);
4 the server could not be reached or did not answer."""


def add_import(commands: Any) -> None:
    parser = commands.add_parser(
        "import",
        help="send a backlog of commands (JSON Lines) to a server in batches",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.description = (
        "Send the commands of FILE (JSON Lines: one {commandId, mutation, input} per line) to "
        "the server's submitCommands mutation in batches, in order, until the first refusal. "
        f"The API key is read from {API_KEY_VARIABLE} (none: the development principal)."
    )
    parser.epilog = EXAMPLE
    parser.add_argument("file", type=Path, metavar="FILE.jsonl", help="the commands to send")
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"the GraphQL URL (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=500, help="commands per request (default 500)"
    )
    parser.add_argument(
        "--all-or-nothing",
        action="store_true",
        help="store each batch whole or not at all (default: until the first refusal)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for each batch's answer"
    )
    parser.set_defaults(run=cmd_import)


def read_commands(path: Path) -> list[dict[str, Any]]:
    """Every command of the file, checked for its shape before anything is sent."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {path}: {error}") from None
    found: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise CommandError(f"{path}:{number}: not JSON ({error.msg})") from None
        if not isinstance(item, dict) or set(item) != {"commandId", "mutation", "input"}:
            raise CommandError(
                f"{path}:{number}: a command is an object with commandId, mutation and input"
            )
        if not isinstance(item["commandId"], str) or not isinstance(item["mutation"], str):
            raise CommandError(f"{path}:{number}: commandId and mutation are strings")
        item["line"] = number
        found.append(item)
    return found


def cmd_import(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    commands = read_commands(args.file)
    mode = "ALL_OR_NOTHING" if args.all_or_nothing else "UNTIL_FIRST_REFUSAL"
    total, stored, again = len(commands), 0, 0
    started = time.perf_counter()
    say(f"import: {total:,} commands from {args.file} to {args.url}, {args.batch_size} a request")
    for start in range(0, total, args.batch_size):
        chunk = commands[start : start + args.batch_size]
        sent = [{k: c[k] for k in ("commandId", "mutation", "input")} for c in chunk]
        answer = _post(args.url, {"mode": mode, "commands": sent}, args.timeout)
        for item, outcome in zip(chunk, answer["outcomes"], strict=True):
            if outcome["status"] == "DONE":
                stored += 1
            elif outcome["status"] == "ALREADY_DONE":
                again += 1
            elif outcome["status"] == "REFUSED":
                error = outcome["error"]
                where = f" ({error['field']})" if error.get("field") else ""
                say(
                    f"import: {args.file}:{item['line']}: {item['mutation']} "
                    f"{item['commandId']!r} refused {error['code']}{where}: {error['message']}"
                )
                _progress(stored + again, total, stored, again, started)
                if args.all_or_nothing:
                    say("import: nothing of that request was stored; correct it and run again")
                else:
                    say("import: the commands before it are stored; correct it and run again")
                return int(Exit.FAILED)
        _progress(stored + again, total, stored, again, started)
    say(f"import: done, {stored:,} stored now and {again:,} stored before")
    return 0


def _progress(done: int, total: int, stored: int, again: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    share = f"{100 * done / total:.0f}%" if total else "100%"
    say(
        f"import: {done:,}/{total:,} commands ({share}), {stored:,} stored, {again:,} already "
        f"stored, {rate:,.0f} commands/s"
    )


def _post(url: str, batch: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One batch sent; its answer, or a CommandError saying why there is none."""
    headers = {"Content-Type": "application/json"}
    key = os.environ.get(API_KEY_VARIABLE)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    body = json.dumps({"query": SUBMIT, "variables": {"input": batch}}).encode()
    request = urllib.request.Request(url, body, headers, method="POST")  # noqa: S310 (the URL is the operator's)
    resend = "run the import again: what was stored is answered ALREADY_DONE"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = _json_or_none(error.read())
        if answer is None:
            message = f"the server answered HTTP {error.code}; {resend}"
            raise CommandError(message, Exit.DATABASE) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CommandError(f"cannot reach {url}: {reason}; {resend}", Exit.DATABASE) from None
    if answer.get("errors"):
        first = answer["errors"][0]
        code = (first.get("extensions") or {}).get("code", "")
        status = (
            Exit.USAGE if code in ("BAD_INPUT", "UNAUTHENTICATED", "FORBIDDEN") else Exit.DATABASE
        )
        raise CommandError(f"the server refused the request: {code} {first.get('message')}", status)
    data: dict[str, Any] = answer["data"]["submitCommands"]
    return data


def _json_or_none(body: bytes) -> dict[str, Any] | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
