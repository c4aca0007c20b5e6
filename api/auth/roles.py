"""The roles a caller can hold, and what each may read and do (docs/access-control.md).

A role names the root queries and mutations it may use. Its scope says whose records it reaches:
the sites named on its credential (with every site a named control site controls), the sites of
a jurisdiction (and member state), or every site.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    SITES = "sites"
    JURISDICTION = "jurisdiction"
    ALL = "all"


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    scope: Scope
    queries: frozenset[str]
    mutations: frozenset[str]
    personal_data: bool = False
    # Acts that only the quality function of the batch's own control site may sign.
    signs_for_control_site: bool = False
    # Works for the whole network of its sites' control site (a contract laboratory tests
    # every batch of the network it serves), not only for its own sites.
    serves_network: bool = False


REGISTRY = frozenset({"site", "sites", "unionDatabaseSiteLinks", "verifyLedger"})
RECORDS = frozenset(
    {"donor", "batch", "batches", "sourceAndFlow", "sourceAndFlowRecords", "epcisDocument"}
)
HISTORY = frozenset({"events"})
SAFETY = frozenset({"adverseEvents", "recallTrace"})
# The signed checkpoints: for those who keep or inspect the ledger as a whole.
CHECKPOINTS = frozenset({"checkpoints"})
EVERY_QUERY = REGISTRY | RECORDS | HISTORY | SAFETY | CHECKPOINTS | {"dmMasterFile"}

SITE_ADMINISTRATION = frozenset(
    {
        "registerSite",
        "activateSite",
        "suspendSite",
        "reinstateSite",
        "terminateSite",
        "relocateSite",
    }
)
DONOR_CARE = frozenset(
    {
        "registerDonor",
        "recordConsent",
        "withdrawConsent",
        "determineEligibility",
        "revokeEligibility",
        "recordDonation",
    }
)
MANUFACTURE = frozenset(
    {
        "receiveMaterialLot",
        "startBatch",
        "recordBatchStep",
        "openDeviation",
        "closeDeviation",
        "destroyBatch",
        "dispatchShipment",
        "receiveShipment",
        "correctEvent",
    }
)
QUALITY = frozenset(
    {
        "releaseMaterialLot",
        "rejectMaterialLot",
        "releaseBatch",
        "rejectBatch",
        "destroyBatch",
        "openDeviation",
        "closeDeviation",
        "initiateRecall",
        "correctEvent",
    }
)
EVERY_MUTATION = (
    SITE_ADMINISTRATION
    | DONOR_CARE
    | MANUFACTURE
    | QUALITY
    | {
        "recordQcResult",
        "recordTemperatureExcursion",
        "recordAdministration",
        "reportAdverseEvent",
        "submitAdverseEventToAuthority",
    }
)

ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role(
            "spoke_operator",
            "staff of a manufacturing or collection site: donors, donations, lots, batch steps, "
            "shipments from and to its sites",
            Scope.SITES,
            REGISTRY | RECORDS | HISTORY,
            DONOR_CARE | MANUFACTURE,
            personal_data=True,
        ),
        Role(
            "qc_laboratory",
            "a quality-control laboratory: QC results and deviations on the batches of the "
            "network its site serves",
            Scope.SITES,
            REGISTRY | {"batch", "batches", "sourceAndFlow"},
            frozenset({"recordQcResult", "openDeviation"}),
            serves_network=True,
        ),
        Role(
            "courier",
            "a courier: dispatch, temperature excursions and receipt of the shipments it "
            "carries for its sites",
            Scope.SITES,
            REGISTRY | {"sourceAndFlow"} | HISTORY,
            frozenset({"dispatchShipment", "recordTemperatureExcursion", "receiveShipment"}),
        ),
        Role(
            "medical_institution",
            "a hospital or treatment centre: receipt, administration, adverse reactions",
            Scope.SITES,
            REGISTRY | {"batch", "sourceAndFlow", "adverseEvents"},
            frozenset({"receiveShipment", "recordAdministration", "reportAdverseEvent"}),
        ),
        Role(
            "quality_person",
            "the quality unit / QP of a control site: lot and batch disposition, deviations, "
            "recalls, corrections, for its own control site's batches",
            Scope.SITES,
            EVERY_QUERY,
            QUALITY,
            signs_for_control_site=True,
        ),
        Role(
            "pharmacovigilance",
            "pharmacovigilance: adverse-event reports and their submission to authorities",
            Scope.SITES,
            REGISTRY | SAFETY | HISTORY | {"batch", "sourceAndFlow"},
            frozenset({"reportAdverseEvent", "submitAdverseEventToAuthority"}),
        ),
        Role(
            "regulator",
            "a competent authority: reads everything of its jurisdiction (and member state); "
            "changes nothing",
            Scope.JURISDICTION,
            EVERY_QUERY,
            frozenset(),
        ),
        Role(
            "recall_investigator",
            "a recall investigator: lineage, records and history of its organisation; "
            "initiates recalls",
            Scope.SITES,
            REGISTRY | RECORDS | HISTORY | SAFETY,
            frozenset({"initiateRecall"}),
        ),
        Role(
            "administrator",
            "an administrator: the site register and API keys; no manufacturing records",
            Scope.ALL,
            REGISTRY | CHECKPOINTS | {"dmMasterFile"},
            SITE_ADMINISTRATION,
        ),
        Role(
            "development",
            "the development principal: everything, on a development machine only",
            Scope.ALL,
            EVERY_QUERY,
            EVERY_MUTATION,
            personal_data=True,
        ),
    )
}

# The role of a caller not yet authenticated (api/auth/identity.py ANONYMOUS).
NOBODY = Role("nobody", "no credentials: may use nothing", Scope.SITES, frozenset(), frozenset())

ASSIGNABLE = tuple(name for name in ROLES if name != "development")


def role(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise ValueError(f"unknown role {name!r}; roles: {', '.join(ASSIGNABLE)}") from None
