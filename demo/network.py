"""Demo data: a realistic hub-and-spoke network, seeded through the ledger's own commands.

The network comes first (this module), then the patients' flows over it (``demo.chain``).

Three control sites, one per regulatory area, each with its manufacturing licence: a Taiwanese
control site supervised by TFDA runs the decentralised sites in Taiwan, an EU central site in
Berlin runs those in Germany and the Netherlands (each supervised by its own member state's
authority), and a UK control site in London runs those in the United Kingdom (a decentralised
site answers only to a control site of its own area). The network has the history a real network
accumulates: activations, a suspension after a failed filter test and its reinstatement,
a mobile unit relocated between hospitals, a terminated site and one still awaiting activation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from demo.chain import CONTROL, CONTROL_OF, EU_CENTRAL, UK_CONTROL, chain_steps
from domain.application import TraceabilityLedger
from domain.shared import Principal

ADMIN = Principal("demo-qa-administrator", "administrator")


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


SITES: list[dict[str, Any]] = [
    {
        "site_id": CONTROL,
        "name": "Taipei Regenerative Medicine Control Centre",
        "kind": "CONTROL_SITE",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA (Taiwan Food and Drug Administration)",
        "licence_number": "TFDA-RMP-2025-0017",
        "location": "No. 7, Zhongshan S. Rd., Zhongzheng Dist., Taipei",
        "contact": "qa-duty@tw-ctrl-tpe.example / +886 2 2312 0001",
        "registered_at": _t("2025-03-03T09:00:00+08:00"),
    },
    {
        "site_id": "TW-MU-HSINCHU",
        "name": "Hsinchu Modular Cell Processing Unit 1",
        "kind": "MODULAR_UNIT",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA (Taiwan Food and Drug Administration)",
        "licence_number": "TFDA-DM-2025-0102",
        "location": "Hsinchu Science Park, Building 3, Hsinchu",
        "contact": "mu1-supervisor@tw-mu-hsinchu.example / +886 3 577 0002",
        "registered_at": _t("2025-04-01T10:00:00+08:00"),
    },
    {
        "site_id": "TW-POC-NTUH",
        "name": "NTUH Point-of-Care CAR-T Suite",
        "kind": "POC_HEALTHCARE_ESTABLISHMENT",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA (Taiwan Food and Drug Administration)",
        "licence_number": "TFDA-DM-2025-0103",
        "location": "National Taiwan University Hospital, Taipei",
        "contact": "poc-cart@ntuh.example / +886 2 2312 0003",
        "registered_at": _t("2025-04-02T10:00:00+08:00"),
    },
    {
        "site_id": "TW-POC-KHH",
        "name": "Kaohsiung Point-of-Care Processing Room",
        "kind": "POC_HEALTHCARE_ESTABLISHMENT",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA (Taiwan Food and Drug Administration)",
        "licence_number": "TFDA-DM-2025-0104",
        "location": "Kaohsiung Veterans General Hospital, Kaohsiung",
        "contact": "poc@vghks.example / +886 7 342 0004",
        "registered_at": _t("2025-04-03T10:00:00+08:00"),
    },
    {
        "site_id": "TW-LAB-QC",
        "name": "Taipei Central QC Laboratory",
        "kind": "TESTING_LABORATORY",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA (Taiwan Food and Drug Administration)",
        "licence_number": "TFDA-LAB-0441",
        "location": "Neihu Technology Park, Taipei",
        "contact": "qc-lab@tw-lab.example / +886 2 2790 0005",
        "registered_at": _t("2025-03-20T10:00:00+08:00"),
    },
    {
        "site_id": "TW-MI-NTUH",
        "name": "National Taiwan University Hospital (approved medical institution)",
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "Ministry of Health and Welfare",
        "licence_number": "MOHW-RM-0009",
        "location": "No. 7, Zhongshan S. Rd., Taipei",
        "contact": "cell-therapy-pharmacy@ntuh.example / +886 2 2312 0006",
        "registered_at": _t("2025-03-25T10:00:00+08:00"),
    },
    {
        "site_id": EU_CENTRAL,
        "name": "Berlin Central Site for Decentralised Cell Therapy Manufacture",
        "kind": "CONTROL_SITE",
        "jurisdiction": "EU",
        "country": "DE",
        "supervising_authority": (
            "Landesamt für Gesundheit und Soziales Berlin / Paul-Ehrlich-Institut"
        ),
        "licence_number": "DE-BE-HE-2025-101 (manufacturing authorisation, AMG §13)",
        "location": "Robert-Rössle-Straße 10, Berlin-Buch",
        "contact": "qp-duty@de-ctrl-berlin.example / +49 30 9406 0020",
        "registered_at": _t("2025-04-28T09:00:00+02:00"),
    },
    {
        "site_id": "DE-MU-BERLIN",
        "name": "Berlin Modular Unit (Charité campus)",
        "kind": "MODULAR_UNIT",
        "jurisdiction": "EU",
        "country": "DE",
        "supervising_authority": (
            "Landesamt für Gesundheit und Soziales Berlin / Paul-Ehrlich-Institut"
        ),
        "licence_number": "DE-BE-HE-2025-114",
        "location": "Augustenburger Platz 1, Berlin",
        "contact": "mu-berlin@charite.example / +49 30 450 0007",
        "registered_at": _t("2025-05-05T09:00:00+02:00"),
    },
    {
        "site_id": "DE-POC-MUNICH",
        "name": "LMU Klinikum Point-of-Care Manufacturing",
        "kind": "POC_HEALTHCARE_ESTABLISHMENT",
        "jurisdiction": "EU",
        "country": "DE",
        "supervising_authority": "Regierung von Oberbayern / Paul-Ehrlich-Institut",
        "location": "Marchioninistraße 15, München",
        "contact": "poc@lmu-klinikum.example / +49 89 4400 0008",
        "registered_at": _t("2025-05-06T09:00:00+02:00"),
    },
    {
        "site_id": "NL-MU-LEIDEN",
        "name": "Leiden Modular Unit (LUMC)",
        "kind": "MODULAR_UNIT",
        "jurisdiction": "EU",
        "country": "NL",
        "supervising_authority": "Inspectie Gezondheidszorg en Jeugd (IGJ)",
        "licence_number": "NL-IGJ-FV-2025-031",
        "location": "Albinusdreef 2, Leiden",
        "contact": "mu-leiden@lumc.example / +31 71 526 0009",
        "registered_at": _t("2025-06-02T09:00:00+02:00"),
    },
    {
        "site_id": "NL-POC-MOBILE",
        "name": "Netherlands Mobile Cell Therapy Unit",
        "kind": "POC_MOBILE",
        "jurisdiction": "EU",
        "country": "NL",
        "supervising_authority": "Inspectie Gezondheidszorg en Jeugd (IGJ)",
        "location": "Erasmus MC, Rotterdam (bay 4)",
        "contact": "mobile-unit@nl-cell.example / +31 6 1000 0010",
        "registered_at": _t("2025-06-10T09:00:00+02:00"),
    },
    {
        "site_id": UK_CONTROL,
        "name": "London Control Site (decentralised manufacture)",
        "kind": "CONTROL_SITE",
        "jurisdiction": "UK",
        "country": "GB",
        "supervising_authority": "MHRA",
        "licence_number": "MIA(IMP) 12345/0001",
        "location": "Guy's Hospital, Great Maze Pond, London SE1",
        "contact": "qp-duty@gb-ctrl-london.example / +44 20 7188 0021",
        "registered_at": _t("2025-06-20T09:00:00+01:00"),
    },
    {
        "site_id": "GB-MU-LONDON",
        "name": "London Modular Unit (King's College Hospital)",
        "kind": "MODULAR_UNIT",
        "jurisdiction": "UK",
        "country": "GB",
        "supervising_authority": "MHRA",
        "licence_number": "MIA(IMP) 12345/0007-DM",
        "location": "Denmark Hill, London SE5",
        "contact": "mu-london@kch.example / +44 20 3299 0011",
        "registered_at": _t("2025-07-01T09:00:00+01:00"),
    },
    {
        "site_id": "GB-POC-HOME-LEEDS",
        "name": "Leeds Home-Administration Service",
        "kind": "POC_HOME",
        "jurisdiction": "UK",
        "country": "GB",
        "supervising_authority": "MHRA",
        "location": "Patients' homes, West Yorkshire",
        "contact": "home-service@leeds.example / +44 113 243 0012",
        "registered_at": _t("2025-07-15T09:00:00+01:00"),
    },
]

# (command, site, reason, effective time): the network's history under the DM procedure.
HISTORY: list[tuple[str, str, str, str]] = [
    ("activate", CONTROL, "QMS certified; QP appointed", "2025-03-10T09:00:00+08:00"),
    (
        "activate",
        "TW-LAB-QC",
        "Laboratory qualified for release testing",
        "2025-03-28T09:00:00+08:00",
    ),
    (
        "activate",
        "TW-MI-NTUH",
        "Approved to perform regenerative medicine",
        "2025-03-28T10:00:00+08:00",
    ),
    (
        "activate",
        "TW-MU-HSINCHU",
        "IQ/OQ/PQ complete; aseptic process simulation passed",
        "2025-04-20T09:00:00+08:00",
    ),
    (
        "activate",
        "TW-POC-NTUH",
        "Site qualification report QR-0103 approved",
        "2025-04-22T09:00:00+08:00",
    ),
    (
        "activate",
        "TW-POC-KHH",
        "Site qualification report QR-0104 approved",
        "2025-04-25T09:00:00+08:00",
    ),
    (
        "activate",
        EU_CENTRAL,
        "Manufacturing authorisation granted; QP appointed",
        "2025-05-02T09:00:00+02:00",
    ),
    (
        "activate",
        UK_CONTROL,
        "UK manufacturing licence granted; DM master file accepted",
        "2025-06-30T09:00:00+01:00",
    ),
    (
        "activate",
        "DE-MU-BERLIN",
        "Qualified; listed in the Union database",
        "2025-05-20T09:00:00+02:00",
    ),
    (
        "activate",
        "DE-POC-MUNICH",
        "Qualified; listed in the Union database",
        "2025-05-22T09:00:00+02:00",
    ),
    (
        "activate",
        "NL-MU-LEIDEN",
        "Qualified; listed in the Union database",
        "2025-06-20T09:00:00+02:00",
    ),
    ("activate", "NL-POC-MOBILE", "Qualified at Erasmus MC bay 4", "2025-06-25T09:00:00+02:00"),
    (
        "activate",
        "GB-MU-LONDON",
        "Registered in the DM master file; qualified",
        "2025-07-20T09:00:00+01:00",
    ),
    (
        "suspend",
        "DE-MU-BERLIN",
        "HEPA filter integrity test failed (DEV-2025-031)",
        "2025-09-02T14:30:00+02:00",
    ),
    (
        "reinstate",
        "DE-MU-BERLIN",
        "Filters replaced; requalification RQ-2025-031 passed",
        "2025-09-19T09:00:00+02:00",
    ),
    ("suspend", "NL-POC-MOBILE", "Moving to a new host hospital", "2025-11-03T08:00:00+01:00"),
    (
        "relocate",
        "NL-POC-MOBILE",
        "Host hospital changed to UMC Utrecht",
        "2025-11-05T12:00:00+01:00",
    ),
    ("reinstate", "NL-POC-MOBILE", "Requalified at UMC Utrecht", "2025-11-14T09:00:00+01:00"),
    (
        "terminate",
        "TW-POC-KHH",
        "Hospital ended the point-of-care agreement",
        "2026-02-27T17:00:00+08:00",
    ),
]

Progress = Callable[[int, int, str], None]


def seed(
    app: TraceabilityLedger, progress: Progress = lambda _d, _t, _m: None, *, flows: bool = True
) -> int:
    """Seed the demo network and (unless ``flows`` is off) its patients' flows; answer the count."""
    chain = list(chain_steps(app)) if flows else []
    total = len(SITES) + len(HISTORY) + len(chain)
    done = 0
    for site in SITES:
        control = None if site["kind"] == "CONTROL_SITE" else CONTROL_OF[site["jurisdiction"]]
        if site["kind"] in ("TESTING_LABORATORY", "MEDICAL_INSTITUTION"):
            control = None
        app.sites.register_site(ADMIN, control_site_id=control, **site)
        done += 1
        progress(done, total, f"registered {site['site_id']}")
    for verb, site_id, reason, when in HISTORY:
        at = _t(when)
        if verb == "relocate":
            app.sites.relocate_site(
                ADMIN, site_id, "UMC Utrecht, Heidelberglaan 100, Utrecht", reason, effective_at=at
            )
        else:
            getattr(app.sites, f"{verb}_site")(ADMIN, site_id, reason, at)
        done += 1
        progress(done, total, f"{verb} {site_id}")
    for label, step in chain:
        step()
        done += 1
        progress(done, total, label)
    return done
