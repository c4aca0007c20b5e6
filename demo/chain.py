"""Demo data: autologous CAR-T (and one allogeneic MSC) flows over the demo network.

Each patient's cells are collected at a hospital, made into one batch at a decentralised site
(T-cell selection, activation, lentiviral transduction, expansion, harvest and formulation,
cryopreservation), tested, certified by the control site's QP, shipped back and administered.
Several batches share one lentiviral vector lot, which is later found contaminated and recalled.
Along the way: a deviation closed before release, an out-of-specification mycoplasma result
investigated and its hold lifted before a valid retest, a batch rejected for a sterility failure
and destroyed, a temperature excursion in transit judged and its hold lifted by the QP, a
donor who withdraws consent mid-manufacture, an allogeneic donor whose eligibility is revoked on
look-back, and adverse reactions reported (one of them still overdue).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from demo import containers as container_story
from demo import custody as custody_story
from demo import genealogy as genealogy_story
from demo import holds as hold_story
from demo import recalls as recall_story
from demo import vigilance as vigilance_story
from domain.application import TraceabilityLedger
from domain.holds import HoldKind
from domain.isbt128 import chain_of_identity_for, check_character
from domain.shared import Principal

CONTROL = "TW-CTRL-TPE"
EU_CENTRAL = "DE-CTRL-BERLIN"
UK_CONTROL = "GB-CTRL-LONDON"
# A decentralised site answers to the control site of its own regulatory area (jurisdiction).
CONTROL_OF = {"TW": CONTROL, "EU": EU_CENTRAL, "UK": UK_CONTROL}
AREA_OF_COUNTRY = {"TW": "TW", "DE": "EU", "NL": "EU", "GB": "UK"}
OPERATOR = Principal("demo-spoke-operator", "spoke_operator")
LAB = Principal("demo-qc-analyst", "qc_laboratory")
QP = Principal("dr-lin-qp", "qualified_person")
# The QP of each control site: a batch is released, rejected and investigated by its own.
QPS = {
    CONTROL: QP,
    EU_CENTRAL: Principal("dr-weber-qp", "qualified_person"),
    UK_CONTROL: Principal("dr-patel-qp", "qualified_person"),
}
COURIER = Principal("demo-courier", "courier")
CLINIC = Principal("demo-hospital-pharmacist", "medical_institution")
# Donor eligibility is a physician's decision (the physician role).
PHYSICIAN = Principal("dr-chen-physician", "physician")
PV = Principal("demo-pharmacovigilance", "pharmacovigilance")

# Sites the chain needs beyond the network: hospitals that collect and infuse, and an EU lab.
EXTRA_SITES: list[dict[str, Any]] = [
    {
        "site_id": "DE-MI-CHARITE",
        "name": "Charité – Universitätsmedizin Berlin (treatment centre)",
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "EU",
        "country": "DE",
        "supervising_authority": "Landesamt für Gesundheit und Soziales Berlin",
        "location": "Charitéplatz 1, Berlin",
        "contact": "zelltherapie-apotheke@charite.example / +49 30 450 0013",
    },
    {
        "site_id": "NL-MI-LUMC",
        "name": "Leiden University Medical Center (treatment centre)",
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "EU",
        "country": "NL",
        "supervising_authority": "Inspectie Gezondheidszorg en Jeugd (IGJ)",
        "location": "Albinusdreef 2, Leiden",
        "contact": "celtherapie@lumc.example / +31 71 526 0014",
    },
    {
        "site_id": "GB-MI-KCH",
        "name": "King's College Hospital (treatment centre)",
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "UK",
        "country": "GB",
        "supervising_authority": "MHRA",
        "location": "Denmark Hill, London SE5",
        "contact": "cart-pharmacy@kch.example / +44 20 3299 0015",
    },
    {
        "site_id": "DE-LAB-QC",
        "name": "Berlin GMP QC Laboratory",
        "kind": "TESTING_LABORATORY",
        "jurisdiction": "EU",
        "country": "DE",
        "supervising_authority": "Landesamt für Gesundheit und Soziales Berlin",
        "location": "Adlershof, Berlin",
        "contact": "qc@berlin-gmp-lab.example / +49 30 6392 0016",
    },
]

# Manufacturing site -> (hospital that collects and infuses, QC laboratory)
ROUTES = {
    "TW-MU-HSINCHU": ("TW-MI-NTUH", "TW-LAB-QC"),
    "TW-POC-NTUH": ("TW-MI-NTUH", "TW-LAB-QC"),
    "DE-MU-BERLIN": ("DE-MI-CHARITE", "DE-LAB-QC"),
    "DE-POC-MUNICH": ("DE-MI-CHARITE", "DE-LAB-QC"),
    "NL-MU-LEIDEN": ("NL-MI-LUMC", "DE-LAB-QC"),
    "NL-POC-MOBILE": ("NL-MI-LUMC", "DE-LAB-QC"),
    "GB-MU-LONDON": ("GB-MI-KCH", "DE-LAB-QC"),
}
SITES_IN_TURN = list(ROUTES)

LOTS: list[dict[str, Any]] = [
    {
        "lot_id": "LV-CD19-25A01",
        "material": "Lentiviral vector, anti-CD19 CAR",
        "supplier": "Formosa Vector Manufacturing",
    },
    {
        "lot_id": "LV-BCMA-25B07",
        "material": "Lentiviral vector, anti-BCMA CAR",
        "supplier": "Formosa Vector Manufacturing",
    },
    {
        "lot_id": "MED-TEX-2511",
        "material": "Serum-free T-cell expansion medium",
        "supplier": "CellMedia GmbH",
    },
    {"lot_id": "IL2-RH-2510", "material": "Recombinant human IL-2", "supplier": "CytoSource BV"},
    {
        "lot_id": "BEADS-CD3-2509",
        "material": "Anti-CD3/CD28 activation beads",
        "supplier": "BeadWorks Inc.",
    },
    {
        "lot_id": "HSA-25-4411",
        "material": "Human serum albumin 20% (plasma-derived)",
        "supplier": "PlasmaPharm AG",
    },
    {
        "lot_id": "MSC-MED-2512",
        "material": "MSC growth medium with platelet lysate",
        "supplier": "CellMedia GmbH",
    },
]

QC_TESTS = [
    ("STERILITY", "Ph. Eur. 2.6.27 (BacT/ALERT)", "No growth", "No growth"),
    ("ENDOTOXIN", "Ph. Eur. 2.6.14 (kinetic LAL)", "< 5.0 EU/mL", "< 0.5 EU/mL"),
    ("MYCOPLASMA", "Ph. Eur. 2.6.7 (NAT)", "Not detected", "Not detected"),
    ("VIABILITY", "Flow cytometry (7-AAD)", ">= 70 %", "91 %"),
    ("IDENTITY", "Flow cytometry (CD3+)", ">= 80 % CD3+", "97 % CD3+"),
    ("CAR_EXPRESSION", "Flow cytometry (anti-idiotype)", ">= 15 %", "42 %"),
    ("VECTOR_COPY_NUMBER", "ddPCR", "<= 5 copies/cell", "1.8 copies/cell"),
    ("POTENCY", "IFN-gamma release on antigen+ cells", ">= 50 % of reference", "76 %"),
    ("RCL", "VSV-G qPCR and cell-based amplification assay", "Not detected", "Not detected"),
]
MSC_QC = [
    ("STERILITY", "Ph. Eur. 2.6.27 (BacT/ALERT)", "No growth", "No growth"),
    ("ENDOTOXIN", "Ph. Eur. 2.6.14 (kinetic LAL)", "< 5.0 EU/mL", "< 0.5 EU/mL"),
    ("MYCOPLASMA", "Ph. Eur. 2.6.7 (NAT)", "Not detected", "Not detected"),
    ("VIABILITY", "Trypan blue", ">= 70 %", "94 %"),
    ("IDENTITY", "Flow cytometry (CD73+CD90+CD105+)", ">= 95 %", "98 %"),
    ("POTENCY", "IDO induction assay", ">= 50 % of reference", "88 %"),
    ("PURITY", "Flow cytometry (CD45, CD34, CD14, CD19, HLA-DR)", "<= 2 % each", "0.6 %"),
    ("KARYOTYPE", "G-banding, 20 metaphases", "Normal diploid karyotype", "46,XY normal"),
]
SCREENING = [
    {"test": "HIV", "result": "HIV-1/2 Ab and NAT non-reactive", "reactive": False},
    {"test": "HBV", "result": "HBsAg, anti-HBc and NAT non-reactive", "reactive": False},
    {"test": "HCV", "result": "Anti-HCV and NAT non-reactive", "reactive": False},
    {"test": "HTLV", "result": "HTLV-I/II Ab non-reactive", "reactive": False},
    {"test": "SYPHILIS", "result": "TPPA non-reactive", "reactive": False},
]

FIRST_START = datetime(2025, 11, 24, 8, 0, tzinfo=UTC)


def din(sequence: int) -> str:
    """A DIN of the Taipei collection facility, written with its check character."""
    data = f"T0417{25 if sequence < 20 else 26}{sequence:06d}"
    return data + check_character(data)


@dataclass
class Plan:
    """One patient's flow; the exceptions are flags."""

    number: int
    site_id: str
    product: str = "CART-CD19-AUTO"
    deviation: bool = False
    sterility_fails: bool = False
    consent_withdrawn: bool = False
    excursion: bool = False
    oos_retest: bool = False  # an out-of-specification result investigated, then retested
    adverse_event: tuple[str, bool, int | None] | None = (
        None  # (description, serious, days to submit)
    )

    @property
    def control(self) -> str:
        """The control site of the manufacturing site's regulatory area (ids start with it)."""
        return CONTROL_OF[AREA_OF_COUNTRY[self.site_id[:2]]]

    @property
    def start(self) -> datetime:
        return FIRST_START + timedelta(days=11 * self.number)

    def at(self, days: float) -> datetime:
        return self.start + timedelta(days=days)


def plans() -> list[Plan]:
    found = []
    for n in range(22):
        site = SITES_IN_TURN[n % len(SITES_IN_TURN)]
        found.append(Plan(n, site, "CART-BCMA-AUTO" if n % 4 == 3 else "CART-CD19-AUTO"))
    found[2].deviation = True
    found[5].sterility_fails = True
    found[8].excursion = True
    found[6].oos_retest = True
    found[11].consent_withdrawn = True
    found[1].adverse_event = ("Cytokine release syndrome grade 3 (ASTCT)", True, 3)
    found[9].adverse_event = ("Immune effector cell-associated neurotoxicity, grade 2", True, 9)
    found[13].adverse_event = (
        "Prolonged cytopenia (neutrophils < 0.5 x 10^9/L at day 28)",
        True,
        None,
    )
    found[16].adverse_event = ("Low-grade fever on day 2, resolved", False, 40)
    return found


Step = Callable[[], object]


def chain_steps(app: TraceabilityLedger) -> Iterator[tuple[str, Step]]:
    """Every command of the demo chain, labelled, in the order they happened."""
    for site in EXTRA_SITES:
        yield (
            f"register {site['site_id']}",
            _call(
                app.sites.register_site,
                OPERATOR,
                registered_at=datetime(2025, 8, 1, tzinfo=UTC),
                **site,
            ),
        )
        yield (
            f"activate {site['site_id']}",
            _call(
                app.sites.activate_site,
                OPERATOR,
                site["site_id"],
                "Approved and qualified",
                datetime(2025, 8, 15, tzinfo=UTC),
            ),
        )
    received = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
    for lot in LOTS:
        yield (
            f"receive lot {lot['lot_id']}",
            _call(
                app.batches.receive_material_lot,
                OPERATOR,
                site_id=CONTROL,
                received_at=received,
                expires_at=received + timedelta(days=540),
                **lot,
            ),
        )
        yield (
            f"release lot {lot['lot_id']}",
            _call(
                app.batches.release_material_lot,
                QP,
                lot["lot_id"],
                "CoA reviewed; identity test passed",
                received + timedelta(days=2),
            ),
        )
    for plan in plans():
        yield from _autologous(app, plan)
    yield from _allogeneic(app)
    yield from _recalls(app)
    yield from vigilance_story.steps(
        app,
        [plan.at for plan in plans()],
        pharmacovigilance=PV,
        clinic=CLINIC,
        uk_quality_person=QPS[UK_CONTROL],
    )


def _call(method: Callable[..., object], *args: Any, **kwargs: Any) -> Step:
    return lambda: method(*args, **kwargs)


def _autologous(app: TraceabilityLedger, p: Plan) -> Iterator[tuple[str, Step]]:
    n = p.number
    donor, patient, batch = f"DNR-{n + 1:04d}", f"PT-{n + 1:04d}", f"CART-{26000 + n}"
    hospital, lab = ROUTES[p.site_id]
    donation = din(n + 1)
    vector = "LV-BCMA-25B07" if p.product == "CART-BCMA-AUTO" else "LV-CD19-25A01"
    yield f"donor {donor}", _call(app.donors.register_donor, CLINIC, donor)
    yield (
        f"consent {donor}",
        _call(app.donors.record_consent, CLINIC, donor, f"ICF-CART-v3-{n + 1:04d}", p.at(-3)),
    )
    yield (
        f"eligibility {donor}",
        _call(
            app.donors.determine_eligibility,
            PHYSICIAN,
            donor,
            "ELIGIBLE",
            "TFDA-RM-DS-2025.1",
            SCREENING,
            p.at(-2),
        ),
    )
    yield (
        f"apheresis {donation}",
        _call(
            app.donors.record_donation,
            CLINIC,
            donation,
            donor,
            "AUTOLOGOUS",
            hospital,
            "Leukapheresis product",
            p.at(-1),
            intended_patient_code=patient,
            source_tissue="PERIPHERAL_BLOOD_APHERESIS",
        ),
    )
    yield from custody_story.apheresis(app, n, donation, p.site_id, p.at)
    yield (
        f"start {batch}",
        _call(
            app.batches.start_batch,
            OPERATOR,
            batch,
            p.product,
            donation,
            patient,
            p.control,
            p.site_id,
            p.at(0),
        ),
    )
    steps = [
        ("T-cell selection", 0, 0.2, ["BEADS-CD3-2509"], {"cd3_purity_pct": 96}),
        ("T-cell activation", 0.2, 1, ["BEADS-CD3-2509", "IL2-RH-2510"], {"bead_ratio": "3:1"}),
        ("Lentiviral transduction", 1, 2, [vector, "MED-TEX-2511"], {"moi": 5}),
        ("Expansion", 2, 9, ["MED-TEX-2511", "IL2-RH-2510"], {"fold_expansion": 38}),
        ("Harvest and formulation", 9, 9.2, ["HSA-25-4411"], {"dose_car_t_cells": "2.0e8"}),
        ("Cryopreservation", 9.2, 9.4, [], {"controlled_rate_profile": "CRF-07"}),
    ]
    for name, begin, end, lots, parameters in steps:
        yield (
            f"{batch}: {name}",
            _call(
                app.batches.record_batch_step,
                OPERATOR,
                batch,
                name,
                p.site_id,
                p.at(begin),
                p.at(end),
                f"op-{p.site_id.lower()}",
                f"{p.site_id}-ISOLATOR-1",
                lots,
                parameters,
            ),
        )
        if p.deviation and name == "Expansion":
            yield (
                f"{batch}: deviation",
                _call(
                    app.batches.open_deviation,
                    OPERATOR,
                    batch,
                    f"DEV-{batch}",
                    "Incubator CO2 alarm for 40 minutes during expansion (day 4)",
                    p.at(4.1),
                ),
            )
        if p.consent_withdrawn and name == "Lentiviral transduction":
            yield (
                f"{donor} withdraws consent",
                _call(
                    app.donors.withdraw_consent,
                    CLINIC,
                    donor,
                    "Patient withdrew from the treatment",
                    p.at(2.5),
                ),
            )
            yield (
                f"{batch}: destroyed",
                _call(
                    app.batches.destroy_batch,
                    OPERATOR,
                    batch,
                    "Donor consent withdrawn during manufacture",
                    p.at(2.6),
                ),
            )
            return
    if p.oos_retest:
        yield from hold_story.investigated_failure(app, batch, (LAB, lab), QPS[p.control], p.start)
    for test, method, spec, result in QC_TESTS:
        failed = p.sterility_fails and test == "STERILITY"
        yield (
            f"{batch}: QC {test}",
            _call(
                app.batches.record_qc_result,
                LAB,
                batch,
                test,
                method,
                spec,
                "Growth detected (Staphylococcus epidermidis)" if failed else result,
                not failed,
                p.at(10.5),
                lab,
            ),
        )
    if p.sterility_fails:
        yield (
            f"{batch}: rejected",
            _call(
                app.batches.reject_batch,
                QPS[p.control],
                batch,
                "Sterility test failed (S. epidermidis)",
                p.at(10.8),
            ),
        )
        yield (
            f"{batch}: destroyed",
            _call(
                app.batches.destroy_batch,
                OPERATOR,
                batch,
                "Rejected batch destroyed per SOP-QA-014",
                p.at(11),
            ),
        )
        return
    if p.deviation:
        yield (
            f"{batch}: deviation closed",
            _call(
                app.batches.close_deviation,
                QPS[p.control],
                batch,
                f"DEV-{batch}",
                "CO2 recovered within limits; no impact on CQAs (impact assessment IA-2025-118)",
                p.at(11),
            ),
        )
    yield from _release_and_use(app, p, batch, patient, hospital)


def _release_and_use(
    app: TraceabilityLedger, p: Plan, batch: str, patient: str, hospital: str
) -> Iterator[tuple[str, Step]]:
    shipment = f"SHP-{batch}"
    yield (
        f"{batch}: QP release",
        _call(
            app.batches.release_batch,
            QPS[p.control],
            batch,
            "QP certification (EU GMP Annex 16)",
            p.at(12),
        ),
    )
    yield (
        f"{shipment}: dispatch",
        _call(
            app.distribution.dispatch_shipment,
            COURIER,
            shipment,
            [batch],
            p.site_id,
            hospital,
            "CryoLogistics (LN2 dry shipper)",
            p.at(12.2),
        ),
    )
    if p.excursion:
        yield (
            f"{shipment}: temperature excursion",
            _call(
                app.distribution.record_temperature_excursion,
                COURIER,
                shipment,
                p.at(12.6),
                -128.5,
                14,
            ),
        )
        yield (
            f"{batch}: TEMPERATURE_EXCURSION hold lifted",
            hold_story.lift(
                app,
                QPS[p.control],
                batch,
                HoldKind.TEMPERATURE_EXCURSION,
                "14 min at -128.5 °C is within the validated transport excursion (stability "
                "study SS-CART-2025-07: no loss of viability or potency up to 30 min above "
                "-150 °C)",
                p.at(12.8),
            ),
        )
    yield (
        f"{shipment}: received",
        _call(app.distribution.receive_shipment, CLINIC, shipment, p.at(13), True),
    )
    yield from custody_story.after_receipt(app, p, batch, shipment, hospital)
    yield (
        f"{batch}: administered",
        _call(
            app.distribution.record_administration,
            CLINIC,
            batch,
            hospital,
            patient,
            p.at(14),
            True,
            chain_of_identity_id=chain_of_identity_for(din(p.number + 1)),
        ),
    )
    if p.adverse_event:
        description, serious, submit_after = p.adverse_event
        report = f"AE-{batch}"
        yield (
            f"{report}: reported",
            _call(
                app.distribution.report_adverse_event,
                PV,
                report,
                batch,
                patient,
                hospital,
                serious,
                description,
                p.at(15),
                p.at(15.5),
            ),
        )
        if submit_after is not None:
            authority = {
                "TW": "TFDA",
                "DE": "Paul-Ehrlich-Institut",
                "NL": "CBG-MEB",
                "GB": "MHRA",
            }[hospital[:2]]
            yield (
                f"{report}: submitted",
                _call(
                    app.distribution.submit_adverse_event_to_authority,
                    PV,
                    report,
                    authority,
                    p.at(15.5 + submit_after),
                ),
            )


def _allogeneic(app: TraceabilityLedger) -> Iterator[tuple[str, Step]]:
    """One allogeneic MSC donor, two batches and a third split into vials for three patients
    (demo/containers.py); eligibility revoked on look-back afterwards."""
    donor, donation = "DNR-ALLO-0001", din(90)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    yield f"donor {donor}", _call(app.donors.register_donor, CLINIC, donor)
    yield (
        f"consent {donor}",
        _call(
            app.donors.record_consent, CLINIC, donor, "ICF-MSC-v2-0001", start - timedelta(days=10)
        ),
    )
    yield (
        f"eligibility {donor}",
        _call(
            app.donors.determine_eligibility,
            PHYSICIAN,
            donor,
            "ELIGIBLE",
            "TFDA-RM-DS-2025.1",
            SCREENING,
            start - timedelta(days=8),
        ),
    )
    yield (
        f"bone marrow {donation}",
        _call(
            app.donors.record_donation,
            CLINIC,
            donation,
            donor,
            "ALLOGENEIC",
            "TW-MI-NTUH",
            "Bone marrow aspirate",
            start - timedelta(days=7),
            source_tissue="BONE_MARROW",
        ),
    )
    for k, patient in enumerate(("PT-MSC-0001", "PT-MSC-0002")):
        batch = f"MSC-{31000 + k}"
        t = start + timedelta(days=k)
        yield (
            f"start {batch}",
            _call(
                app.batches.start_batch,
                OPERATOR,
                batch,
                "MSC-ALLO",
                donation,
                patient,
                CONTROL,
                "TW-MU-HSINCHU",
                t,
            ),
        )
        yield (
            f"{batch}: expansion",
            _call(
                app.batches.record_batch_step,
                OPERATOR,
                batch,
                "MSC expansion (P0-P3)",
                "TW-MU-HSINCHU",
                t,
                t + timedelta(days=18),
                "op-tw-mu-hsinchu",
                "TW-MU-HSINCHU-BIOREACTOR-2",
                ["MSC-MED-2512"],
                {"passages": 3},
            ),
        )
        for test, method, spec, result in MSC_QC:
            yield (
                f"{batch}: QC {test}",
                _call(
                    app.batches.record_qc_result,
                    LAB,
                    batch,
                    test,
                    method,
                    spec,
                    result,
                    True,
                    t + timedelta(days=19),
                    "TW-LAB-QC",
                ),
            )
        yield (
            f"{batch}: QP release",
            _call(app.batches.release_batch, QP, batch, "QP certification", t + timedelta(days=20)),
        )
    yield from container_story.steps(app, donation, CONTROL, MSC_QC)
    yield from genealogy_story.steps(app, donation, din(91), CONTROL, SCREENING)
    yield (
        f"{donor}: eligibility revoked",
        _call(
            app.donors.revoke_eligibility,
            PHYSICIAN,
            donor,
            "Look-back: HBV NAT positive on retained donor sample (LB-2026-004)",
        ),
    )


def _recalls(app: TraceabilityLedger) -> Iterator[tuple[str, Step]]:
    """The three kinds of recall: a contaminated vector lot, a donor found ineligible on
    look-back, and a site over the weeks of a suspected environmental problem."""
    yield (
        "LV-CD19-25A01 found contaminated",
        _call(
            app.batches.reject_material_lot,
            QP,
            "LV-CD19-25A01",
            "Supplier notice SN-2026-07: replication-competent lentivirus detected in a retained "
            "sample",
        ),
    )
    yield (
        "CART-26000: physician told of the vector lot's rejection",
        hold_story.acknowledge(
            app,
            CLINIC,
            "CART-26000",
            "Treating haematologist informed by phone and letter; patient enrolled in "
            "long-term follow-up for replication-competent lentivirus",
        ),
    )
    yield (
        "recall of LV-CD19-25A01",
        _call(
            app.recalls.initiate_recall,
            QP,
            "RCL-2026-001",
            "MATERIAL_LOT",
            "LV-CD19-25A01",
            "Vector lot LV-CD19-25A01 contaminated (supplier notice SN-2026-07); trace and notify "
            "every treating centre for long-term follow-up of exposed patients",
            classification="CLASS_1",
        ),
    )
    yield (
        "recall of DNR-ALLO-0001",
        _call(
            app.recalls.initiate_recall,
            QP,
            "RCL-2026-002",
            "DONOR",
            "DNR-ALLO-0001",
            "Donor eligibility revoked on look-back (HBV NAT positive, LB-2026-004)",
        ),
    )
    yield (
        "recall of DE-MU-BERLIN over December 2025",
        _call(
            app.recalls.initiate_recall,
            QP,
            "RCL-2026-003",
            "SITE",
            "DE-MU-BERLIN",
            "Environmental monitoring trend at the Berlin unit (EM-2026-002): everything made or "
            "handled there in December 2025",
            datetime(2025, 12, 1, tzinfo=UTC),
            datetime(2025, 12, 31, 23, 59, tzinfo=UTC),
            classification="CLASS_2",
            initiated_at=recall_story.BERLIN_INITIATED,
        ),
    )
    # Carried out: the first to closure, the others left open (demo/recalls.py).
    yield from recall_story.steps(app)
    yield from custody_story.controlled_return(app)
