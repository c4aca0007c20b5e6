"""Build a realistic ledger through the application's own commands (never by writing rows).

A control site with N spokes, a QC laboratory and hospitals; autologous CAR-T batches spread over
the spokes, each with donor, consent, eligibility, donation, six steps, seven QC results, QP
release, shipment, receipt and administration (about 25 events a batch); material lots each used
by up to ``lot_reuse`` batches; an adverse reaction every 50 batches.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from demo.chain import QC_TESTS, SCREENING
from domain.application import TraceabilityLedger
from domain.shared import Principal

ADMIN = Principal("bench-admin", "administrator")
CONTROL = "BENCH-CTRL"
LAB = "BENCH-LAB"
START = datetime(2024, 1, 1, tzinfo=UTC)
EVENTS_PER_BATCH = 25
OPEN_BATCHES = 9  # one client alone, then eight at once
OPEN_FROM = 9_000_000  # donor and patient numbers no generated batch reaches


def network(app: TraceabilityLedger, spokes: int) -> list[tuple[str, str]]:
    """Control site, laboratory, and (spoke, hospital) pairs, all active."""
    at = START - timedelta(days=30)
    app.sites.register_site(
        ADMIN,
        site_id=CONTROL,
        name="Bench control site",
        kind="CONTROL_SITE",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
        licence_number="TFDA-BENCH-CTRL",
        registered_at=at,
    )
    app.sites.activate_site(ADMIN, CONTROL, "qualified", at)
    app.sites.register_site(
        ADMIN,
        site_id=LAB,
        name="Bench QC laboratory",
        kind="TESTING_LABORATORY",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
        registered_at=at,
    )
    app.sites.activate_site(ADMIN, LAB, "qualified", at)
    pairs = []
    for n in range(spokes):
        spoke, hospital = f"BENCH-MU-{n:03d}", f"BENCH-MI-{n:03d}"
        app.sites.register_site(
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
        )
        app.sites.activate_site(ADMIN, spoke, "qualified", at)
        app.sites.register_site(
            ADMIN,
            site_id=hospital,
            name=f"Bench hospital {n}",
            kind="MEDICAL_INSTITUTION",
            jurisdiction="TW",
            country="TW",
            supervising_authority="MOHW",
            licence_number=f"MOHW-{hospital}",
            registered_at=at,
        )
        app.sites.activate_site(ADMIN, hospital, "qualified", at)
        pairs.append((spoke, hospital))
    return pairs


def lot(app: TraceabilityLedger, lot_id: str, at: datetime) -> None:
    app.batches.receive_material_lot(
        ADMIN,
        lot_id,
        "Lentiviral vector",
        "Bench Vector Co",
        CONTROL,
        at,
        at + timedelta(days=3650),
    )
    app.batches.release_material_lot(ADMIN, lot_id, "CoA reviewed", at + timedelta(hours=1))


def batch(app: TraceabilityLedger, n: int, spoke: str, hospital: str, lot_id: str) -> None:
    # A minute apart: even the 10x scale (400,000 batches) ends in the past, as commands require.
    t0 = START + timedelta(minutes=n)

    def at(hours: float) -> datetime:
        return t0 + timedelta(hours=hours)

    donor, patient, batch_id = f"D{n:07d}", f"P{n:07d}", f"B{n:07d}"
    app.donors.register_donor(ADMIN, donor)
    app.donors.record_consent(ADMIN, donor, f"ICF-{n}", at(0))
    app.donors.determine_eligibility(ADMIN, donor, "ELIGIBLE", "v1", SCREENING, at(1))
    app.donors.record_donation(
        ADMIN,
        f"DON{n:07d}",
        donor,
        "AUTOLOGOUS",
        hospital,
        "Leukapheresis",
        at(2),
        source_tissue="PERIPHERAL_BLOOD_APHERESIS",
        intended_patient_code=patient,
    )
    app.batches.start_batch(
        ADMIN, batch_id, "CART-CD19-AUTO", f"DON{n:07d}", patient, CONTROL, spoke, at(3)
    )
    for k, step in enumerate(
        ("selection", "activation", "transduction", "expansion", "harvest", "cryopreservation")
    ):
        lots = [lot_id] if step == "transduction" else []
        app.batches.record_batch_step(
            ADMIN, batch_id, step, spoke, at(4 + k), at(4.5 + k), "operator", None, lots, None
        )
    for test, method, spec, result in QC_TESTS:
        app.batches.record_qc_result(ADMIN, batch_id, test, method, spec, result, True, at(11), LAB)
    app.batches.release_batch(ADMIN, batch_id, "QP certification", at(12))
    app.distribution.dispatch_shipment(
        ADMIN, f"S{n:07d}", [batch_id], spoke, hospital, "Courier", at(13)
    )
    app.distribution.receive_shipment(ADMIN, f"S{n:07d}", at(14), True)
    app.distribution.record_administration(
        ADMIN, batch_id, hospital, patient, at(15), True, chain_of_identity_id=f"COI-DON{n:07d}"
    )
    if n % 50 == 0:
        app.distribution.report_adverse_event(
            ADMIN, f"AE{n:07d}", batch_id, patient, hospital, True, "CRS grade 2", at(16), at(17)
        )


def build(
    app: TraceabilityLedger,
    events: int,
    spokes: int = 20,
    lot_reuse: int = 1000,
    progress: Callable[[int, int], None] = lambda _d, _t: None,
) -> dict[str, object]:
    """About ``events`` events; answers what it built (lot ids, batch count, open batches)."""
    single_writer(app)
    pairs = network(app, spokes)
    batches = max(events // EVENTS_PER_BATCH, 1)
    lots: list[str] = []
    for n in range(batches):
        if n % lot_reuse == 0:
            lots.append(f"LV-{len(lots):05d}")
            lot(app, lots[-1], START - timedelta(days=1))
        spoke, hospital = pairs[n % len(pairs)]
        batch(app, n, spoke, hospital, lots[-1])
        if n % 200 == 0:
            progress(n, batches)
    progress(batches, batches)
    return {
        "batches": batches,
        "lots": lots,
        "spokes": spokes,
        "adverse_event": "AE0000000",
        "open_batches": open_batches(app, OPEN_BATCHES, *pairs[0]),
        "spoke": pairs[0][0],
    }


def single_writer(app: TraceabilityLedger) -> None:
    """Trust the aggregate cache: the generator is the ledger's only writer and every command it
    sends is accepted, so no load needs to look for newer events in the database (fast-forward)
    or copy the cached aggregate to protect it from a command that fails half-way."""
    app.repository.fastforward = False
    app.repository.deepcopy_from_cache = False


def open_batches(app: TraceabilityLedger, count: int, spoke: str, hospital: str) -> list[str]:
    """Batches started and left in process, one per benchmark client, so each can record
    manufacturing steps on its own batch without conflicting with the others."""
    ids = []
    for k in range(count):
        n = OPEN_FROM + k
        donor, donation, batch_id = f"D{n:07d}", f"DON{n:07d}", f"BENCH-OPEN-{k:02d}"
        app.donors.register_donor(ADMIN, donor)
        app.donors.record_consent(ADMIN, donor, f"ICF-{n}", START)
        app.donors.determine_eligibility(ADMIN, donor, "ELIGIBLE", "v1", SCREENING, START)
        app.donors.record_donation(
            ADMIN,
            donation,
            donor,
            "AUTOLOGOUS",
            hospital,
            "Leukapheresis",
            START,
            source_tissue="PERIPHERAL_BLOOD_APHERESIS",
            intended_patient_code=f"P{n:07d}",
        )
        app.batches.start_batch(
            ADMIN, batch_id, "CART-CD19-AUTO", donation, f"P{n:07d}", CONTROL, spoke, START
        )
        ids.append(batch_id)
    return ids
