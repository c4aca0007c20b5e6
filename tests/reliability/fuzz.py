"""What both ways of fuzzing share: the mutations, the odd characters they may send, and the
check every answer must pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import graphql

from api.commands import BATCHES
from api.schema import sdl
from projections.audit import verify
from tests.conftest import ledger_size
from tests.reliability.harness import Seeded

SCHEMA = graphql.build_schema(sdl())
assert SCHEMA.mutation_type is not None
# Every mutation that takes one input object: the contract's commands and any added since. A
# batch (submitCommands) answers its commands' refusals as data and runs each through its own
# mutation's declaration, which is fuzzed here.
MUTATIONS = sorted(
    n for n, f in SCHEMA.mutation_type.fields.items() if "input" in f.args and n not in BATCHES
)
assert {"registerSite", "recordBatchStep", "initiateRecall", "correctEvent"} <= set(MUTATIONS)
CODES = {"BAD_INPUT", "NOT_FOUND", "CONFLICT", "RULE_VIOLATION"}
INJECTIONS = [
    "'; DROP TABLE ledger; --",
    "Robert'); DROP TABLE stored_events;--",
    "' OR '1'='1",
    "' UNION SELECT hash FROM ledger --",
    "1; DELETE FROM site_versions",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "../../../../etc/passwd",
    "%s%s%s%n",
    "\\",
    '"',
    "null",
    "NaN",
    "",
    " ",
    "\t\r\n",
    "Site:TW-CTRL",
    "\u202etfel-ot-thgir",
    "zero\u200bwidth",
    "ＴＷ－ＣＴＲＬ",
    "细胞治疗",
    "العلاج الخلوي",
    "🧬🧪💉" * 20,
    "e\u0301\u0301\u0301",
    "\ufeffBOM",
    "\x1b[31mred\x1b[0m",
]


@dataclass(frozen=True)
class Odd:
    """Which odd values the strategies may generate: all of them since the API refuses what no
    record may hold at the door (api/auth/values.py); a flag turned off narrows a search."""

    nul: bool = True  # NUL characters
    surrogates: bool = True  # lone UTF-16 surrogates
    far_times: bool = True  # times before year 1 or after 9999 in UTC


def document(mutation: str) -> str:
    assert SCHEMA.mutation_type is not None
    argument = SCHEMA.mutation_type.fields[mutation].args["input"]
    return (
        f"mutation Fuzz($input: {argument.type}) {{ {mutation}(input: $input) {{ __typename }} }}"
    )


def check(seeded: Seeded, mutation: str, input: Any) -> str:
    """Send one command; it must be refused with a code and store nothing, or be accepted and
    store something. Answer the code, or "accepted"."""
    before = ledger_size(seeded.service)
    response = seeded.send(document(mutation), {"input": input})
    assert response.status_code < 500, response.text
    body = response.json()
    after = ledger_size(seeded.service)
    errors = body.get("errors") or []
    codes = [(e.get("extensions") or {}).get("code") for e in errors]
    assert all(code in CODES for code in codes), body
    if errors:
        assert (body.get("data") or {}).get(mutation) is None, body
        assert after == before, f"a refused command stored {after - before} event(s): {body}"
        return str(codes[0])
    assert body["data"][mutation] is not None, body
    assert after > before, body
    return "accepted"


def assert_the_ledger_verifies(seeded: Seeded) -> None:
    with seeded.service.read() as sql:
        head = int(sql.scalar("SELECT MAX(position) FROM ledger"))
    result = verify(seeded.service.read, None, None, lambda _d, _t: None)
    assert result.ok, result
    assert result.head_position == head
