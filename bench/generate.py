"""Build a realistic ledger through the application's own commands (never by writing rows).

A control site with N spokes, a QC laboratory and hospitals; autologous CAR-T batches spread over
the spokes, each with donor, consent, eligibility, donation, six steps, seven QC results, QP
release, shipment, receipt and administration (about 25 events a batch); material lots each used
by up to ``lot_reuse`` batches; an adverse reaction every 50 batches.

The commands run in group commits (``TraceabilityLedger.group_commit``, ADR 10): each in a step
of its own, with the same aggregates, rules and inline projections as when sent alone, several
sharing one database transaction. A transaction holds whole batches (with the lot a batch opens),
so a build stopped at any moment (a part of a build, an interrupted one) leaves whole batches
behind, and ``build(..., resume=True)`` continues from the first batch not stored. ``group=0``
sends each command in a transaction of its own, as the generator did before group commits.
The same scale builds the same events in the same order whatever the transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial

from demo.chain import QC_TESTS, SCREENING
from domain.application import TraceabilityLedger
from domain.batch import Batch
from domain.shared import Principal
from domain.site import Site

ADMIN = Principal("bench-admin", "administrator")
CONTROL = "BENCH-CTRL"
LAB = "BENCH-LAB"
START = datetime(2024, 1, 1, tzinfo=UTC)
EVENTS_PER_BATCH = 25
OPEN_BATCHES = 9  # one client alone, then eight at once
OPEN_FROM = 9_000_000  # donor and patient numbers no generated batch reaches
# Commands per transaction (at least: whole batches are added until a transaction holds this
# many). Measured on a 2-core machine at the medium scale (bench/RESULTS.md, generator rows).
GROUP = 500

Command = Callable[[], object]


def run_each(commands: Iterable[Command]) -> None:
    """Each command in a transaction of its own."""
    for command in commands:
        command()


def pairs_of(spokes: int) -> list[tuple[str, str]]:
    """The (spoke, hospital) pairs of a network of ``spokes`` spokes."""
    return [(f"BENCH-MU-{n:03d}", f"BENCH-MI-{n:03d}") for n in range(spokes)]


def network_commands(app: TraceabilityLedger, spokes: int) -> list[Command]:
    """Control site, laboratory, and (spoke, hospital) pairs, each registered and activated."""
    at = START - timedelta(days=30)
    sites = app.sites
    commands: list[Command] = [
        partial(
            sites.register_site,
            ADMIN,
            site_id=CONTROL,
            name="Bench control site",
            kind="CONTROL_SITE",
            jurisdiction="TW",
            country="TW",
            supervising_authority="TFDA",
            licence_number="TFDA-BENCH-CTRL",
            registered_at=at,
        ),
        partial(sites.activate_site, ADMIN, CONTROL, "qualified", at),
        partial(
            sites.register_site,
            ADMIN,
            site_id=LAB,
            name="Bench QC laboratory",
            kind="TESTING_LABORATORY",
            jurisdiction="TW",
            country="TW",
            supervising_authority="TFDA",
            registered_at=at,
        ),
        partial(sites.activate_site, ADMIN, LAB, "qualified", at),
    ]
    for n, (spoke, hospital) in enumerate(pairs_of(spokes)):
        commands += [
            partial(
                sites.register_site,
                ADMIN,
                site_id=spoke,
                name=f"Bench modular unit {n}",
                kind="MODULAR_UNIT",
                jurisdiction="TW",
                country="TW",
                supervising_authority="TFDA",
                licence_number=f"TFDA-{spoke}",
                control_site_id=CONTROL,
                registered_at=at,
            ),
            partial(sites.activate_site, ADMIN, spoke, "qualified", at),
            partial(
                sites.register_site,
                ADMIN,
                site_id=hospital,
                name=f"Bench hospital {n}",
                kind="MEDICAL_INSTITUTION",
                jurisdiction="TW",
                country="TW",
                supervising_authority="MOHW",
                licence_number=f"MOHW-{hospital}",
                registered_at=at,
            ),
            partial(sites.activate_site, ADMIN, hospital, "qualified", at),
        ]
    return commands


def network(app: TraceabilityLedger, spokes: int) -> list[tuple[str, str]]:
    """Control site, laboratory, and (spoke, hospital) pairs, all active."""
    run_each(network_commands(app, spokes))
    return pairs_of(spokes)


def lot_commands(app: TraceabilityLedger, lot_id: str, at: datetime) -> list[Command]:
    batches = app.batches
    return [
        partial(
            batches.receive_material_lot,
            ADMIN,
            lot_id,
            "Lentiviral vector",
            "Bench Vector Co",
            CONTROL,
            at,
            at + timedelta(days=3650),
        ),
        partial(
            batches.release_material_lot, ADMIN, lot_id, "CoA reviewed", at + timedelta(hours=1)
        ),
    ]


def lot(app: TraceabilityLedger, lot_id: str, at: datetime) -> None:
    run_each(lot_commands(app, lot_id, at))


def batch_commands(
    app: TraceabilityLedger, n: int, spoke: str, hospital: str, lot_id: str
) -> list[Command]:
    """Batch ``n``, from its donor's registration to its patient's administration."""
    # A minute apart: even the 10x scale (400,000 batches) ends in the past, as commands require.
    t0 = START + timedelta(minutes=n)

    def at(hours: float) -> datetime:
        return t0 + timedelta(hours=hours)

    donors, batches, distribution = app.donors, app.batches, app.distribution
    donor, patient, batch_id = f"D{n:07d}", f"P{n:07d}", f"B{n:07d}"
    commands: list[Command] = [
        partial(donors.register_donor, ADMIN, donor),
        partial(donors.record_consent, ADMIN, donor, f"ICF-{n}", at(0)),
        partial(donors.determine_eligibility, ADMIN, donor, "ELIGIBLE", "v1", SCREENING, at(1)),
        partial(
            donors.record_donation,
            ADMIN,
            f"DON{n:07d}",
            donor,
            "AUTOLOGOUS",
            hospital,
            "Leukapheresis",
            at(2),
            source_tissue="PERIPHERAL_BLOOD_APHERESIS",
            intended_patient_code=patient,
        ),
        partial(
            batches.start_batch,
            ADMIN,
            batch_id,
            "CART-CD19-AUTO",
            f"DON{n:07d}",
            patient,
            CONTROL,
            spoke,
            at(3),
        ),
    ]
    for k, step in enumerate(
        ("selection", "activation", "transduction", "expansion", "harvest", "cryopreservation")
    ):
        lots = [lot_id] if step == "transduction" else []
        commands.append(
            partial(
                batches.record_batch_step,
                ADMIN,
                batch_id,
                step,
                spoke,
                at(4 + k),
                at(4.5 + k),
                "operator",
                None,
                lots,
                None,
            )
        )
    for test, method, spec, result in QC_TESTS:
        commands.append(
            partial(
                batches.record_qc_result,
                ADMIN,
                batch_id,
                test,
                method,
                spec,
                result,
                True,
                at(11),
                LAB,
            )
        )
    commands += [
        partial(batches.release_batch, ADMIN, batch_id, "QP certification", at(12)),
        partial(
            distribution.dispatch_shipment,
            ADMIN,
            f"S{n:07d}",
            [batch_id],
            spoke,
            hospital,
            "Courier",
            at(13),
        ),
        partial(distribution.receive_shipment, ADMIN, f"S{n:07d}", at(14), True),
        partial(
            distribution.record_administration,
            ADMIN,
            batch_id,
            hospital,
            patient,
            at(15),
            True,
            chain_of_identity_id=f"COI-DON{n:07d}",
        ),
    ]
    if n % 50 == 0:
        commands.append(
            partial(
                distribution.report_adverse_event,
                ADMIN,
                f"AE{n:07d}",
                batch_id,
                patient,
                hospital,
                True,
                "CRS grade 2",
                at(16),
                at(17),
            )
        )
    return commands


def batch(app: TraceabilityLedger, n: int, spoke: str, hospital: str, lot_id: str) -> None:
    run_each(batch_commands(app, n, spoke, hospital, lot_id))


def open_batch_commands(
    app: TraceabilityLedger, count: int, spoke: str, hospital: str
) -> tuple[list[Command], list[str]]:
    """Batches started and left in process, one per benchmark client, so each can record
    manufacturing steps on its own batch without conflicting with the others."""
    donors = app.donors
    commands: list[Command] = []
    ids = []
    for k in range(count):
        n = OPEN_FROM + k
        donor, donation, batch_id = f"D{n:07d}", f"DON{n:07d}", f"BENCH-OPEN-{k:02d}"
        commands += [
            partial(donors.register_donor, ADMIN, donor),
            partial(donors.record_consent, ADMIN, donor, f"ICF-{n}", START),
            partial(donors.determine_eligibility, ADMIN, donor, "ELIGIBLE", "v1", SCREENING, START),
            partial(
                donors.record_donation,
                ADMIN,
                donation,
                donor,
                "AUTOLOGOUS",
                hospital,
                "Leukapheresis",
                START,
                source_tissue="PERIPHERAL_BLOOD_APHERESIS",
                intended_patient_code=f"P{n:07d}",
            ),
            partial(
                app.batches.start_batch,
                ADMIN,
                batch_id,
                "CART-CD19-AUTO",
                donation,
                f"P{n:07d}",
                CONTROL,
                spoke,
                START,
            ),
        ]
        ids.append(batch_id)
    return commands, ids


def open_batches(app: TraceabilityLedger, count: int, spoke: str, hospital: str) -> list[str]:
    """Open batches (``open_batch_commands``), each command in a transaction of its own."""
    commands, ids = open_batch_commands(app, count, spoke, hospital)
    run_each(commands)
    return ids


def single_writer(app: TraceabilityLedger) -> None:
    """Trust the aggregate cache: the generator is the ledger's only writer and every command it
    sends is accepted, so no load needs to look for newer events in the database (fast-forward)
    or copy the cached aggregate to protect it from a command that fails half-way. (A group
    commit loads through a repository of its own, which does neither anyway.)"""
    app.repository.fastforward = False
    app.repository.deepcopy_from_cache = False


class Writer:
    """Runs the build's units (the network, a batch with the lot it opens, the open batches) in
    transactions of at least ``group`` commands, never splitting a unit; ``group=0``: each
    command in a transaction of its own."""

    def __init__(self, app: TraceabilityLedger, group: int) -> None:
        self.app, self.group = app, group
        self.pending: list[Command] = []

    def unit(self, commands: list[Command]) -> bool:
        """Add a unit; True if this committed a transaction (the unit and those before it)."""
        if self.group <= 0:
            run_each(commands)
            return True
        self.pending += commands
        if len(self.pending) < self.group:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        if not self.pending:
            return
        with self.app.group_commit() as steps:
            for command in self.pending:
                with steps.step():
                    command()
        self.pending = []


def batches_stored(app: TraceabilityLedger, batches: int) -> int:
    """How many of the build's batches the ledger holds: they land in order, each whole, so
    the first one missing is found by bisection (``exists`` reads one batch's events)."""
    low, high = 0, batches  # batches below ``low`` are stored; ``high`` and above are not
    while low < high:
        middle = (low + high) // 2
        if app.exists(Batch, f"B{middle:07d}"):
            low = middle + 1
        else:
            high = middle
    return low


def batch_total(events: int) -> int:
    return max(events // EVENTS_PER_BATCH, 1)


def build(
    app: TraceabilityLedger,
    events: int,
    spokes: int = 20,
    lot_reuse: int = 1000,
    progress: Callable[[int, int], None] = lambda _d, _t: None,
    *,
    group: int = GROUP,
    resume: bool = False,
    until: int | None = None,
) -> dict[str, object]:
    """About ``events`` events; answers what it built (lot ids, batch count, open batches).

    ``group``: commands per transaction (at least; whole batches), 0 for one command per
    transaction. ``resume``: continue a ledger an earlier build with the same arguments left
    unfinished, from its first batch not stored (group commits only: a transaction of single
    commands may leave a batch half stored). ``until``: stop once that many batches are
    stored (a part of a build, to be resumed); the open batches come last, after every batch.
    ``progress(batches stored, batches)`` is called as transactions commit.
    """
    if resume and group <= 0:
        raise ValueError("a build resumes only with group commits (group > 0)")
    single_writer(app)
    pairs = pairs_of(spokes)
    batches = batch_total(events)
    stop = batches if until is None else min(until, batches)
    writer = Writer(app, group)
    done = batches_stored(app, batches) if resume else 0
    if not (resume and app.exists(Site, pairs[-1][1])):  # the network is one unit
        writer.unit(network_commands(app, spokes))
    for n in range(done, stop):
        unit = []
        if n % lot_reuse == 0:
            unit += lot_commands(app, _lot_id(n, lot_reuse), START - timedelta(days=1))
        spoke, hospital = pairs[n % len(pairs)]
        unit += batch_commands(app, n, spoke, hospital, _lot_id(n, lot_reuse))
        if writer.unit(unit) and (group > 0 or n % 200 == 0):
            progress(n + 1, batches)
    writer.flush()
    progress(max(done, stop), batches)
    complete = stop == batches
    commands, open_ids = open_batch_commands(app, OPEN_BATCHES, *pairs[0])
    if complete and not (resume and app.exists(Batch, open_ids[0])):
        writer.unit(commands)  # one unit: all of them or none
        writer.flush()
    return {
        "batches": batches,
        "complete": complete,
        "lots": [_lot_id(n, lot_reuse) for n in range(0, batches, lot_reuse)],
        "spokes": spokes,
        "adverse_event": "AE0000000",
        "open_batches": open_ids if complete else [],
        "spoke": pairs[0][0],
    }


def _lot_id(n: int, lot_reuse: int) -> str:
    """The material lot batch ``n`` uses (a new one every ``lot_reuse`` batches)."""
    return f"LV-{n // lot_reuse:05d}"
