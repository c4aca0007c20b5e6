"""The roles a caller can hold, and what each may read and do (docs/access-control.md).

A role names the root queries it may use; the commands it may send are those whose declarations
name it (api/commands.py: each command lists its roles once, next to its GraphQL field). Its scope
says whose records it reaches: the sites named on its credential (with every site a named control
site controls), the sites of a jurisdiction (and member state), or every site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    SITES = "sites"
    JURISDICTION = "jurisdiction"
    ALL = "all"


# The roles, as commands' declarations name them.
SPOKE_OPERATOR = "spoke_operator"
QC_LABORATORY = "qc_laboratory"
COURIER = "courier"
MEDICAL_INSTITUTION = "medical_institution"
PHYSICIAN = "physician"
QUALITY_PERSON = "quality_person"
PHARMACOVIGILANCE = "pharmacovigilance"
REGULATOR = "regulator"
RECALL_INVESTIGATOR = "recall_investigator"
ADMINISTRATOR = "administrator"
DEVELOPMENT = "development"

# Which roles may send each command (GraphQL name -> role names), filled by the commands'
# declarations as their modules load (api/commands.py); api/schema.py loads them all, and
# tests/unit/test_access_targets.py checks the schema's mutations against this table.
_COMMAND_ROLES: dict[str, frozenset[str]] = {}
EVERY_MUTATION = _COMMAND_ROLES.keys()


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    scope: Scope
    queries: frozenset[str]
    personal_data: bool = False
    # Acts that only the quality function of the batch's own control site may sign.
    signs_for_control_site: bool = False
    # Works for the whole network of its sites' control site (a contract laboratory tests
    # every batch of the network it serves), not only for its own sites.
    serves_network: bool = False
    # May send every command (the development principal), whatever the declarations name.
    every_command: bool = False

    @property
    def mutations(self) -> frozenset[str]:
        """The commands this role may send: those whose declarations name it (complete once
        the schema, which composes every command, is loaded)."""
        if not _COMMAND_ROLES:  # asked too early, the answer would be silently empty
            raise RuntimeError("no command is declared yet: import api.schema first")
        return frozenset(
            name
            for name, roles in _COMMAND_ROLES.items()
            if self.every_command or self.name in roles
        )


REGISTRY = frozenset({"site", "sites", "unionDatabaseSiteLinks", "verifyLedger"})
RECORDS = frozenset(
    {"donor", "batch", "batches", "sourceAndFlow", "sourceAndFlowRecords", "epcisDocument"}
    | {"label", "sourceAndFlowCsv"}  # the label and the CSV export (issue 18)
    | {"custodyTimeline"}  # custody from vein to vein (issue 18, item 2)
)
HISTORY = frozenset({"events"})
# physicianNotifications: the duties to tell a treating physician of holds raised after use.
# A recall's notified parties read the recalls that notified them (projections/recalls.py).
RECALLS = frozenset({"recall", "recalls"})
SAFETY = frozenset({"adverseEvents", "recallTrace", "physicianNotifications"}) | RECALLS
# The signed checkpoints: for those who keep or inspect the ledger as a whole.
CHECKPOINTS = frozenset({"checkpoints"})
# Long-term follow-up visits and reportable deviations, with what is overdue (api/vigilance.py).
VIGILANCE = frozenset({"followUpVisits", "reportableDeviations"})
SAFETY = SAFETY | VIGILANCE
# A medical institution's own record (Taiwan's 2025 source-and-flow rules).
INSTITUTION = frozenset({"institutionRecord"})
EVERY_QUERY = REGISTRY | RECORDS | HISTORY | SAFETY | CHECKPOINTS | {"dmMasterFile"} | INSTITUTION

ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role(
            SPOKE_OPERATOR,
            "staff of a manufacturing or collection site: donors, donations, lots, batch steps, "
            "shipments from and to its sites",
            Scope.SITES,
            REGISTRY | RECORDS | HISTORY | RECALLS,
            personal_data=True,
        ),
        Role(
            QC_LABORATORY,
            "a quality-control laboratory: QC results and deviations on the batches of the "
            "network its site serves",
            Scope.SITES,
            REGISTRY | {"batch", "batches", "sourceAndFlow"},
            serves_network=True,
        ),
        Role(
            COURIER,
            "a courier: dispatch, temperature excursions and receipt of the shipments it "
            "carries for its sites",
            Scope.SITES,
            REGISTRY | {"sourceAndFlow"} | HISTORY,
        ),
        Role(
            MEDICAL_INSTITUTION,
            "a hospital or treatment centre: receipt, administration, adverse reactions",
            Scope.SITES,
            REGISTRY
            | {"batch", "sourceAndFlow", "adverseEvents", "physicianNotifications"}
            | RECALLS
            | VIGILANCE
            | INSTITUTION,
        ),
        Role(
            PHYSICIAN,
            "a physician of a collection site or hospital: determines (and on look-back "
            "revokes) donor eligibility, the decision the law reserves to a physician",
            Scope.SITES,
            REGISTRY | {"donor"} | RECALLS,
            personal_data=True,
        ),
        Role(
            QUALITY_PERSON,
            "the quality unit / QP of a control site: lot and batch disposition, deviations, "
            "recalls, corrections, for its own control site's batches",
            Scope.SITES,
            EVERY_QUERY,
            signs_for_control_site=True,
        ),
        Role(
            PHARMACOVIGILANCE,
            "pharmacovigilance: adverse-event reports and their submission to authorities",
            Scope.SITES,
            REGISTRY | SAFETY | HISTORY | {"batch", "sourceAndFlow"},
        ),
        Role(
            REGULATOR,
            "a competent authority: reads everything of its jurisdiction (and member state); "
            "changes nothing",
            Scope.JURISDICTION,
            EVERY_QUERY,
        ),
        Role(
            RECALL_INVESTIGATOR,
            "a recall investigator: lineage, records and history of its organisation; "
            "initiates recalls",
            Scope.SITES,
            REGISTRY | RECORDS | HISTORY | SAFETY,
        ),
        Role(
            ADMINISTRATOR,
            "an administrator: the site register and API keys; no manufacturing records",
            Scope.ALL,
            REGISTRY | CHECKPOINTS | {"dmMasterFile"},
        ),
        Role(
            DEVELOPMENT,
            "the development principal: everything, on a development machine only",
            Scope.ALL,
            EVERY_QUERY,
            personal_data=True,
            every_command=True,
        ),
    )
}

# The role of a caller not yet authenticated (api/auth/identity.py ANONYMOUS).
NOBODY = Role("nobody", "no credentials: may use nothing", Scope.SITES, frozenset())

ASSIGNABLE = tuple(name for name in ROLES if name != DEVELOPMENT)


def role(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise ValueError(f"unknown role {name!r}; roles: {', '.join(ASSIGNABLE)}") from None


def allow(command: str, roles: Iterable[str]) -> frozenset[str]:
    """Record that ``roles`` may send ``command``: called once per command, by its declaration.

    An empty list, an unknown role or a second declaration of one command is refused, so a
    command cannot load without saying who sends it.
    """
    allowed = frozenset(roles)
    if not allowed:
        raise TypeError(f"{command} names no role that may send it")
    unknown = sorted(allowed - set(ROLES))
    if unknown or DEVELOPMENT in allowed:
        raise TypeError(f"{command} names {', '.join(unknown) or DEVELOPMENT}: not a role to name")
    if command in _COMMAND_ROLES:
        raise TypeError(f"{command} is declared twice")
    _COMMAND_ROLES[command] = allowed
    return allowed
