"""The authenticated caller: who acts (recorded on every event) and which records it reaches."""

from __future__ import annotations

from dataclasses import dataclass

from api.auth.roles import NOBODY, Role, Scope
from domain.shared import Principal
from projections.sql import Sql


@dataclass(frozen=True)
class Identity:
    id: str
    role: Role
    sites: tuple[str, ...] = ()
    jurisdiction: str | None = None
    member_state: str | None = None
    via: str = "api-key"

    @property
    def principal(self) -> Principal:
        return Principal(self.id, self.role.name)

    def reach(self, sql: Sql) -> tuple[str, ...] | None:
        """The sites whose records this caller sees, as they stand now (None: every site).

        A named control site brings every site it controls, so a control site's quality unit
        sees its whole network (a laboratory serving a network, that of its site's control
        site); a regulator sees the sites of its jurisdiction (and member state, for an EU
        authority).
        """
        if self.role.scope is Scope.ALL:
            return None
        if self.role.scope is Scope.JURISDICTION:
            statement = (
                "SELECT site_id FROM site_versions WHERE valid_to IS NULL AND jurisdiction = ?"
            )
            params = [self.jurisdiction]
            if self.member_state:
                statement += " AND country = ?"
                params.append(self.member_state)
            rows = sql.all(statement, params)
            return tuple(sorted(r["site_id"] for r in rows))
        if not self.sites:
            return ()
        named = set(self.sites)
        if self.role.serves_network:
            named |= set(_column(sql, "control_site_id", "site_id", named))
        return tuple(sorted(named | set(_column(sql, "site_id", "control_site_id", named))))

    def describe(self) -> str:
        scope = {
            Scope.ALL: "every site",
            Scope.SITES: "sites " + ", ".join(self.sites),
            Scope.JURISDICTION: f"jurisdiction {self.jurisdiction}"
            + (f" ({self.member_state})" if self.member_state else ""),
        }[self.role.scope]
        return f"{self.id} as {self.role.name}, reaching {scope}"


# Who a request is before it has authenticated (a WebSocket before connection_init, a browser
# fetching the GraphiQL page): nobody, with no permission at all.
ANONYMOUS = Identity("anonymous", NOBODY, via="none")


def _column(sql: Sql, column: str, where: str, values: set[str]) -> list[str]:
    """``column`` of the current sites whose ``where`` is one of ``values``."""
    marks = ", ".join("?" * len(values))
    rows = sql.all(
        f"SELECT {column} AS found FROM site_versions WHERE valid_to IS NULL"
        f" AND {where} IN ({marks}) AND {column} IS NOT NULL",
        sorted(values),
    )
    return [r["found"] for r in rows]
