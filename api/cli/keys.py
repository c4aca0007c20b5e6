"""``regentrace apikey create | revoke | list``: machine credentials, managed on the server."""

from __future__ import annotations

import argparse
from typing import Any

from api.auth.roles import ASSIGNABLE, ROLES
from api.cli.common import load_settings, say


def _keys() -> Any:
    from api.auth.keys import ApiKeys
    from api.wiring import Regentrace, migrate

    settings = load_settings()
    migrate(settings.database)
    return ApiKeys(Regentrace(settings))


def cmd_create(args: argparse.Namespace) -> int:
    from domain.shared import DomainError

    keys = _keys()
    try:
        key, token = keys.create(
            args.name, args.role, args.site or [], args.jurisdiction, args.member_state
        )
    except (DomainError, ValueError) as error:
        say(f"regentrace apikey: {getattr(error, 'message', error)}")
        return 2
    finally:
        keys.service.close()
    say(f"created key {key.key_id} {key.name!r}: {key.identity().describe()}")
    say("the key is shown this once; store it now (only its hash is kept):")
    print(token, flush=True)
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from domain.shared import DomainError

    keys = _keys()
    try:
        key = keys.revoke(args.name)
    except DomainError as error:
        say(f"regentrace apikey: {error.message}")
        return 2
    finally:
        keys.service.close()
    say(f"revoked key {key.key_id} {key.name!r} at {key.revoked_at:%Y-%m-%d %H:%M:%S %Z}")
    return 0


def cmd_list(_: argparse.Namespace) -> int:
    keys = _keys()
    try:
        found = keys.list()
    finally:
        keys.service.close()
    for k in found:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        print(f"{k.key_id}\t{k.name}\t{k.identity().describe()}\t{state}")
    say(f"{len(found)} key(s)")
    return 0


def add_apikey_commands(commands: Any) -> None:
    from domain.shared import JURISDICTIONS

    apikey = commands.add_parser("apikey", help="create, revoke and list API keys")
    apikey.description = "API keys for partner systems; only their hashes are stored."
    actions = apikey.add_subparsers(dest="action", required=True, metavar="ACTION")
    roles = "; ".join(f"{name}: {ROLES[name].description}" for name in ASSIGNABLE)
    create = actions.add_parser("create", help="issue a key (printed once)")
    create.description = f"Issue a key and print it once. Roles — {roles}."
    create.add_argument("--name", required=True, help="a unique name, shown as the actor")
    create.add_argument("--role", required=True, choices=ASSIGNABLE, help="what the key may do")
    create.add_argument(
        "--site",
        action="append",
        help="a site the key acts for (repeat for more); a control "
        "site brings every site it controls",
    )
    *others, last = JURISDICTIONS
    create.add_argument(
        "--jurisdiction", help=f"a regulator's jurisdiction: {', '.join(others)} or {last}"
    )
    create.add_argument("--member-state", help="an EU regulator's member state, e.g. DE")
    create.set_defaults(run=cmd_create)
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("name", help="the key's name or id")
    revoke.set_defaults(run=cmd_revoke)
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.set_defaults(run=cmd_list)
