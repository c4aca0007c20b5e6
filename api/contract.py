"""The partner contract, kept in the repository: ``api/contract.graphql`` is what partner
systems code against, ``api/schema.graphql`` the schema the service serves, printed and committed
so that a schema change shows in review.

The served schema may add to the contract (types, fields, optional arguments, enum values); a
change that would break a partner's client is refused. GraphQL's "dangerous" changes (an enum value
or an optional argument added to a contract field, a default changed) do not fail the check but
are reported, since a strict client may trip on them.

``python -m api.contract`` checks the schema the code builds; ``--sdl FILE`` checks a printed one.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from graphql import build_schema, find_breaking_changes, find_dangerous_changes

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "contract.graphql"
COMMITTED_SCHEMA = HERE / "schema.graphql"


@dataclass
class ContractReport:
    breaking: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)
    contract_fields: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaking

    def lines(self) -> list[str]:
        found = [f"contract: breaking: {line}" for line in self.breaking]
        found += [f"contract: dangerous: {line}" for line in self.dangerous]
        if self.ok:
            found.append(
                f"contract: ok, {self.contract_fields} contract fields honoured"
                + (f" ({len(self.dangerous)} dangerous changes)" if self.dangerous else "")
            )
        else:
            found.append(
                f"contract: {len(self.breaking)} breaking differences over "
                f"{self.contract_fields} contract fields"
            )
        return found


def compare(product_sdl: str, contract_sdl: str | None = None) -> ContractReport:
    """How the schema in ``product_sdl`` stands against the contract (the committed one unless
    ``contract_sdl`` is given)."""
    contract = build_schema(contract_sdl if contract_sdl is not None else CONTRACT.read_text())
    product = build_schema(product_sdl)
    return ContractReport(
        breaking=[
            f"{c.type.name}: {c.description}" for c in find_breaking_changes(contract, product)
        ],
        dangerous=[
            f"{c.type.name}: {c.description}" for c in find_dangerous_changes(contract, product)
        ],
        contract_fields=sum(
            len(getattr(t, "fields", None) or {})
            for name, t in contract.type_map.items()
            if not name.startswith("__")
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.contract",
        description="Check the GraphQL schema against the partner contract (api/contract.graphql); "
        "exit 1 on a change that would break a partner.",
    )
    parser.add_argument("--sdl", type=Path, help="a printed schema to check (default: the code's)")
    args = parser.parse_args(argv)
    if args.sdl is not None:
        product = args.sdl.read_text()
    else:
        from api.schema import sdl

        product = sdl()
    report = compare(product)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
