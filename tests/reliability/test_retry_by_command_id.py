"""Partners that send every command with a commandId and send it again, with the same id, until
it is acknowledged, while PostgreSQL's connections are terminated and the server is restarted
under their load: at the end every command is in the ledger exactly once (ADR 7, issue 14).

Two server processes share the database (as ``serve --workers 2`` would), and each partner sends
its attempts to one and then the other. The database is a private instance the test starts
itself (``private_postgres``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from tests.api import chain_documents as docs
from tests.reliability.conftest import PrivatePostgres
from tests.reliability.harness import (
    Acknowledged,
    Partner,
    Refused,
    ServerProcess,
    build,
    chain_commands,
    ledger_rows,
    network_with_lot,
    outcome,
    regentrace_cli,
)

PARTNERS = 3
UNITS = 8  # seven commands each, per partner
# After how many acknowledged commands (of all partners) the database is disturbed, and how.
# Sessions terminated every five (an idle one is replaced unseen; one in a command's
# transaction fails it, at worst at COMMIT), the server restarted once.
DISTURBANCES = [(n, "terminate") for n in range(5, 165, 5) if n != 80] + [(80, "restart")]
DEADLINE = 100.0  # seconds: safety bound on the whole load
OUTAGE_BOUND = 30.0  # seconds: safety bound on the wait for a retry while the database is down
RETRYABLE = {"CONFLICT", "UNAVAILABLE", "INTERNAL", None}  # answers worth sending again


def identified(field_name: str) -> str:
    """A partner's document for ``field_name``: its input and its command id as variables."""
    name = field_name[0].upper() + field_name[1:]
    return (
        f"mutation {name}($input: {docs.INPUT_TYPES[field_name]}!, $id: String) "
        f"{{ {field_name}(input: $input, commandId: $id) {docs.COMMAND_RESULT} }}"
    )


@dataclass
class RetryingPartner:
    """Sends its commands in order, each with an id of its own, again and again until one
    attempt is acknowledged; never moves on without an acknowledgement."""

    servers: list[str]
    commands: list[tuple[str, dict[str, Any]]]
    deadline: float
    acknowledged: dict[str, Acknowledged] = field(default_factory=dict)
    attempts: int = 0
    retried: list[str] = field(default_factory=list)  # what each retried attempt had got
    refused: list[Refused] = field(default_factory=list)  # answers that are not worth retrying
    ids: list[str] = field(default_factory=list)

    def run(self) -> None:
        clients = [Partner(url) for url in self.servers]
        try:
            for field_name, input in self.commands:
                command_id = f"cmd-{uuid.uuid4()}"
                self.ids.append(command_id)
                if not self._until_acknowledged(clients, field_name, input, command_id):
                    return
        finally:
            for client in clients:
                client.close()

    def _until_acknowledged(
        self, clients: list[Partner], field_name: str, input: dict[str, Any], command_id: str
    ) -> bool:
        while time.monotonic() < self.deadline:
            client = clients[self.attempts % len(clients)]
            self.attempts += 1
            answer = self._send(client, field_name, input, command_id)
            if isinstance(answer, Acknowledged):
                self.acknowledged[command_id] = answer
                return True
            if isinstance(answer, Refused) and not set(answer.codes) <= RETRYABLE:
                self.refused.append(answer)
                return False
            self.retried.append(str(answer))
            time.sleep(0.05)
        return False

    @staticmethod
    def _send(
        client: Partner, field_name: str, input: dict[str, Any], command_id: str
    ) -> Acknowledged | Refused | str:
        try:
            response = client.post(identified(field_name), {"input": input, "id": command_id})
        except httpx.TransportError as error:
            return type(error).__name__
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return outcome(field_name, response.json())


def terminate_backends(instance: PrivatePostgres) -> int:
    """End every session on the regentrace database (as an operator's pg_terminate_backend)."""
    admin = f"postgresql://postgres@127.0.0.1:{instance.port}/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = 'regentrace' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def disturb(
    instance: PrivatePostgres, partners: list[RetryingPartner], done: threading.Event
) -> list[str]:
    """Terminate sessions and restart the server as the load reaches each step; the server
    stays down until some partner has had to send a command again (each wait bounded)."""
    happened: list[str] = []
    for at, how in sorted(DISTURBANCES):
        while sum(len(p.acknowledged) for p in partners) < at and not done.wait(0.01):
            pass
        if done.is_set():
            break
        if how == "restart":
            retried = sum(len(p.retried) for p in partners)
            instance.stop("fast")
            deadline = time.monotonic() + OUTAGE_BOUND
            while sum(len(p.retried) for p in partners) == retried and not done.wait(0.05):
                if time.monotonic() > deadline:
                    break
            instance.start()
        else:
            terminate_backends(instance)
        happened.append(f"{how} at {sum(len(p.acknowledged) for p in partners)}")
    return happened


def test_partners_that_retry_by_command_id_store_every_command_exactly_once(
    private_postgres: PrivatePostgres, servers: Callable[..., ServerProcess]
):
    url = private_postgres.url
    both = [servers(url), servers(url)]
    t = docs.Timeline.ending_weeks_ago()
    setup = Partner(both[0].base_url)
    build(setup, lambda gql: network_with_lot(gql, t))
    setup.close()
    setup_head = ledger_rows(url)[-1].position

    deadline = time.monotonic() + DEADLINE
    partners = [
        RetryingPartner(
            [s.base_url for s in (both if tag % 2 else both[::-1])],
            list(chain_commands(t, tag, UNITS)),
            deadline,
        )
        for tag in range(1, PARTNERS + 1)
    ]
    threads = [threading.Thread(target=p.run, daemon=True) for p in partners]
    done = threading.Event()
    for thread in threads:
        thread.start()
    disturbances: list[str] = []
    chaos = threading.Thread(
        target=lambda: disturbances.extend(disturb(private_postgres, partners, done)),
        daemon=True,
    )
    chaos.start()
    for thread in threads:
        thread.join(DEADLINE + 30)
    done.set()
    chaos.join(60)

    summary = [(len(p.acknowledged), p.attempts, p.refused[:2]) for p in partners]
    assert all(not thread.is_alive() for thread in threads), summary
    assert all(p.refused == [] for p in partners), summary
    assert all(len(p.acknowledged) == len(p.commands) for p in partners), summary
    # Every disturbance came while commands were still to be sent, and at least the restart
    # made a partner send a command again.
    assert len(disturbances) == len(DISTURBANCES), disturbances
    assert [r for p in partners for r in p.retried], "no partner had to send a command again"

    every = {command_id: a for p in partners for command_id, a in p.acknowledged.items()}
    assert_each_command_once(url, every, setup_head)
    assert_retries_answer_the_same(both[1].base_url, partners[0], every)
    verified = regentrace_cli(url, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "verify: OK" in verified.stderr


def assert_each_command_once(url: str, every: dict[str, Acknowledged], setup_head: int) -> None:
    """One event per command after the setup, each where its acknowledgement said, and one
    kept command id for each, pointing at it."""
    rows = [r for r in ledger_rows(url) if r.position > setup_head]
    assert len(rows) == len(every)
    held = {(r.position, r.aggregate_id, r.version) for r in rows}
    assert {(a.position, a.aggregate_id, a.version) for a in every.values()} == held
    with psycopg.connect(url, autocommit=True) as conn:
        kept = conn.execute("SELECT command_id, position FROM commands").fetchall()
    assert sorted(kept) == sorted((command_id, a.position) for command_id, a in every.items())


def assert_retries_answer_the_same(
    base_url: str, partner: RetryingPartner, every: dict[str, Acknowledged]
) -> None:
    """Sent once more after all that, a command answers its first result and stores nothing."""
    client = Partner(base_url)
    try:
        head = client.verify_ledger()["headPosition"]
        for (field_name, input), command_id in zip(partner.commands, partner.ids, strict=True):
            again = RetryingPartner._send(client, field_name, input, command_id)
            assert again == every[command_id], (command_id, again)
        assert client.verify_ledger()["headPosition"] == head
    finally:
        client.close()
