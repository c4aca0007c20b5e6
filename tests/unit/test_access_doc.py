"""The role table in docs/access-control.md says what api/auth/roles.py enforces: the queries
listed there, and the commands whose declarations (api/commands.py) name each role."""

from __future__ import annotations

import re
from pathlib import Path

import api.schema  # noqa: F401 (composes every command, whose declaration names its roles)
from api.auth.roles import ASSIGNABLE, EVERY_QUERY, REGISTRY, ROLES

DOC = Path(__file__).parents[2] / "docs" / "access-control.md"


def documented() -> dict[str, tuple[str, set[str], set[str], bool]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and cells[0].strip("`") in ROLES:
            name, scope, queries, mutations, personal = cells
            rows[name.strip("`")] = (scope, _names(queries), _names(mutations), personal == "yes")
    return rows


def _names(cell: str) -> set[str]:
    found = set(re.findall(r"`(\w+)`", cell))
    if cell.startswith("registry"):
        found |= REGISTRY
    if cell.startswith("everything"):
        found |= EVERY_QUERY
    return found


def test_every_assignable_role_is_documented_as_it_is_enforced():
    rows = documented()

    assert sorted(rows) == sorted(ASSIGNABLE)
    for name, (scope, queries, mutations, personal) in rows.items():
        role = ROLES[name]
        assert scope == role.scope.value, name
        assert queries == set(role.queries), name
        assert mutations == set(role.mutations), name
        assert personal == role.personal_data, name
