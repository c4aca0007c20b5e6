"""Site authorisation and donor protection, as data (domain/data/site_authorisation.json and
domain/data/donor_protection.json), through real GraphQL documents on both databases.

Each W-row of issue 16 is a refusal here: its extensions.code, and a ledger that did not grow
(``refused`` checks it); each is paired with the accepted case next to it, so a rule that refused
everything would fail too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.auth.keys import ApiKeys
from domain import donor_protection, site_authorisation
from domain.donation import Donation
from domain.site import SiteKind
from tests.api.chain_documents import (
    CHAIN_OF_IDENTITY,
    CONTROL,
    DIN,
    DIN_LABELLED,
    HOSPITAL,
    LAB,
    PATIENT,
    SCREENING,
    Timeline,
    delivered,
    donor_with_donation,
    network,
    qc,
    refused,
    release,
    released_lot,
    run,
    site_input,
    started_batch,
    transduction,
)
from tests.api.client import GraphQL
from tests.conftest import ledger_size

BATCH = "CART-26001"


@pytest.fixture
def t() -> Timeline:
    return Timeline.ending_weeks_ago()


def eu_site(site_id: str, country: str, authority: str, t: Timeline, **more: Any) -> dict:
    return site_input(
        site_id,
        more.pop("kind", "MODULAR_UNIT"),
        t,
        jurisdiction="EU",
        country=country,
        supervisingAuthority=authority,
        **more,
    )


def activate(site_id: str, t: Timeline, days: float = -50) -> dict[str, Any]:
    return {"siteId": site_id, "reason": "qualified", "effectiveAt": t(days)}


# ------------------------------------------------------------------------------ the data files


def test_the_authorisation_file_is_loaded_and_names_a_source_for_each_rule():
    rules = site_authorisation.authorisation()

    assert SiteKind.CONTROL_SITE in rules.licence_required["UK"].kinds
    assert {SiteKind.MEDICAL_INSTITUTION, SiteKind.CELL_BANK} <= rules.licence_required["TW"].kinds
    assert SiteKind.TESTING_LABORATORY not in rules.may_administer
    assert SiteKind.MEDICAL_INSTITUTION in rules.may_administer
    assert all(rule.source for rule in rules.licence_required.values())
    assert ("Agence nationale de sécurité du médicament et des produits de santé", "ANSM") in (
        rules.eu_authorities["FR"]
    )


def test_the_donor_protection_file_maps_usual_assay_names_to_markers():
    assert donor_protection.marker_of("HIV-1/2 NAT") == "HIV"
    assert donor_protection.marker_of("anti-HBc") == "HBV"
    assert donor_protection.marker_of("hcv rna") == "HCV"
    assert donor_protection.marker_of("TPPA") == "SYPHILIS"
    assert donor_protection.marker_of("Full blood count") is None
    assert "FETAL_TISSUE" in donor_protection.protection().forbidden["TW"][0]
    assert donor_protection.required_markers(["TW"], "PERIPHERAL_BLOOD_APHERESIS") == (
        "HIV",
        "HBV",
        "HCV",
        "SYPHILIS",
        "HTLV",
    )


# ------------------------------------------------------------------------ W-14: site network


async def test_w14_an_eu_or_uk_spoke_is_not_linked_to_a_taiwanese_control_site(
    gql: GraphQL, service, t
):
    await run(gql, "registerSite", site_input(CONTROL, "CONTROL_SITE", t))
    uk_spoke = site_input(
        "GB-MU-LONDON",
        "MODULAR_UNIT",
        t,
        jurisdiction="UK",
        country="GB",
        supervisingAuthority="MHRA",
        controlSiteId=CONTROL,
    )
    eu_spoke = eu_site("DE-MU-BERLIN", "DE", "Paul-Ehrlich-Institut", t, controlSiteId=CONTROL)

    for spoke in (uk_spoke, eu_spoke):
        error = await refused(gql, service, "registerSite", spoke, "RULE_VIOLATION")
        assert "own regulatory area" in error["message"]
        assert CONTROL in error["message"]

    central = eu_site("DE-CTRL-BERLIN", "DE", "LAGeSo Berlin", t, kind="CONTROL_SITE")
    await run(gql, "registerSite", central)
    await run(gql, "registerSite", {**eu_spoke, "controlSiteId": "DE-CTRL-BERLIN"})


async def test_w14_a_french_site_is_not_supervised_by_the_paul_ehrlich_institut(
    gql: GraphQL, service, t
):
    await run(gql, "registerSite", eu_site("DE-CTRL-BERLIN", "DE", "PEI", t, kind="CONTROL_SITE"))
    french = eu_site("FR-MU-LYON", "FR", "Paul-Ehrlich-Institut", t, controlSiteId="DE-CTRL-BERLIN")

    error = await refused(gql, service, "registerSite", french, "RULE_VIOLATION")
    assert "not an authority of FR" in error["message"]
    assert "ANSM" in error["message"]
    both = {**french, "supervisingAuthority": "ANSM / Paul-Ehrlich-Institut"}
    error = await refused(gql, service, "registerSite", both, "RULE_VIOLATION")
    assert "Paul-Ehrlich-Institut" in error["message"]

    await run(gql, "registerSite", {**french, "supervisingAuthority": "ANSM"})


async def test_w14_a_member_state_without_listed_authorities_is_refused_as_data_to_extend(
    gql: GraphQL, service, t
):
    luxembourg = eu_site("LU-CTRL-1", "LU", "Ministère de la Santé", t, kind="CONTROL_SITE")

    error = await refused(gql, service, "registerSite", luxembourg, "RULE_VIOLATION")
    assert "data to extend" in error["message"]


async def test_w14_a_uk_control_site_without_a_licence_is_not_activated(gql: GraphQL, service, t):
    unlicensed = site_input(
        "GB-CTRL-LONDON",
        "CONTROL_SITE",
        t,
        jurisdiction="UK",
        country="GB",
        supervisingAuthority="MHRA",
        licenceNumber=None,
    )
    await run(gql, "registerSite", unlicensed)

    error = await refused(
        gql, service, "activateSite", activate("GB-CTRL-LONDON", t), "RULE_VIOLATION"
    )
    assert "needs a licence" in error["message"]
    assert "manufacturing licence" in error["message"]

    licensed = {**unlicensed, "id": "GB-CTRL-LEEDS", "licenceNumber": "MIA(IMP) 12345/0001"}
    await run(gql, "registerSite", licensed)
    await run(gql, "activateSite", activate("GB-CTRL-LEEDS", t))


# ------------------------------------------------------------------------- W-8: administration


async def delivered_batch(gql: GraphQL, t: Timeline) -> None:
    await network(gql, t)
    await donor_with_donation(gql, t)
    await released_lot(gql, t)
    await started_batch(gql, t, BATCH)
    await transduction(gql, t, BATCH)
    await qc(gql, t, BATCH)
    await release(gql, t, BATCH)
    await delivered(gql, t, BATCH)


def administration(site_id: str, t: Timeline) -> dict[str, Any]:
    return {
        "batchId": BATCH,
        "siteId": site_id,
        "patientCode": PATIENT,
        "administeredAt": t(-9),
        "identityVerified": True,
        "chainOfIdentityId": CHAIN_OF_IDENTITY,
    }


async def test_w8_administration_only_at_a_licensed_site_allowed_to_administer(
    gql: GraphQL, service, t
):
    await delivered_batch(gql, t)
    await run(
        gql,
        "registerSite",
        site_input("TW-MI-UNAPPROVED", "MEDICAL_INSTITUTION", t, licenceNumber=None),
    )
    refused_activation = await refused(
        gql, service, "activateSite", activate("TW-MI-UNAPPROVED", t), "RULE_VIOLATION"
    )
    assert "needs a licence" in refused_activation["message"]

    at_lab = await refused(
        gql, service, "recordAdministration", administration(LAB, t), "RULE_VIOLATION"
    )
    assert "TESTING_LABORATORY" in at_lab["message"]
    assert "administered only at" in at_lab["message"]
    unlicensed = await refused(
        gql,
        service,
        "recordAdministration",
        administration("TW-MI-UNAPPROVED", t),
        "RULE_VIOLATION",
    )
    assert "needs a licence to be administering" in unlicensed["message"]

    await run(gql, "recordAdministration", administration(HOSPITAL, t))


# ----------------------------------------------------------------------- W-9: source tissue


def donation(t: Timeline, **more: Any) -> dict[str, Any]:
    return {
        "donationId": DIN_LABELLED,
        "donorCode": "DNR-FETAL",
        "donationType": "ALLOGENEIC",
        "siteId": HOSPITAL,
        "material": "Fetal ventral midbrain tissue (6-8 weeks)",
        "acquiredAt": t(-38),
        **more,
    }


WITHOUT_HTLV = [s for s in SCREENING if s["test"] != "HTLV"]


async def eligible_donor(
    gql: GraphQL, t: Timeline, code: str, screening: list[dict[str, Any]] = SCREENING
) -> None:
    await run(gql, "registerDonor", {"donorCode": code})
    await run(
        gql,
        "recordConsent",
        {"donorCode": code, "consentReference": f"ICF-{code}", "signedAt": t(-40)},
    )
    await run(gql, "determineEligibility", eligibility(code, t, screening))


def eligibility(code: str, t: Timeline, screening: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "donorCode": code,
        "outcome": "ELIGIBLE",
        "criteriaVersion": "TFDA-RM-DS-2025.1",
        "screening": screening,
        "determinedAt": t(-39),
    }


async def test_w9_fetal_tissue_is_refused_in_taiwan_and_a_donation_names_its_tissue_code(
    gql: GraphQL, service, t
):
    await network(gql, t)
    await eligible_donor(gql, t, "DNR-FETAL")

    fetal = await refused(
        gql, service, "recordDonation", donation(t, sourceTissue="FETAL_TISSUE"), "RULE_VIOLATION"
    )
    assert "FETAL_TISSUE may not be used as a source in TW" in fetal["message"]
    uncoded = await refused(gql, service, "recordDonation", donation(t), "BAD_INPUT")
    assert "sourceTissue" in uncoded["message"]
    assert uncoded["extensions"]["field"] == "sourceTissue"

    await run(
        gql,
        "recordDonation",
        donation(t, sourceTissue="ADIPOSE_TISSUE", material="Lipoaspirate"),
    )


async def test_an_allogeneic_leukocyte_rich_donation_in_taiwan_needs_htlv_screening(
    gql: GraphQL, service, t
):
    await network(gql, t)
    await eligible_donor(gql, t, "DNR-FETAL", screening=WITHOUT_HTLV)
    apheresis = donation(t, sourceTissue="PERIPHERAL_BLOOD_APHERESIS", material="Leukapheresis")

    error = await refused(gql, service, "recordDonation", apheresis, "RULE_VIOLATION")
    assert "HTLV" in error["message"]

    await run(gql, "recordDonation", {**apheresis, "sourceTissue": "ADIPOSE_TISSUE"})


# ------------------------------------------------------------------ W-17: who decides eligibility


def key(service, name: str, role: str, sites: list[str]) -> str:
    return ApiKeys(service).create(name, role, sites)[1]


async def test_w17_a_spoke_operator_may_not_determine_eligibility_a_physician_may(
    gql: GraphQL, service, t
):
    await network(gql, t)
    await run(gql, "registerDonor", {"donorCode": "DNR-0001", "siteId": HOSPITAL})
    await run(
        gql,
        "recordConsent",
        {"donorCode": "DNR-0001", "consentReference": "ICF-1", "signedAt": t(-40)},
    )
    operator = gql.as_(key(service, "hospital-operator", "spoke_operator", [HOSPITAL]))
    physician = gql.as_(key(service, "hospital-physician", "physician", [HOSPITAL]))
    decision = eligibility("DNR-0001", t, SCREENING)

    error = await refused(operator, service, "determineEligibility", decision, "FORBIDDEN")
    assert "spoke_operator" in error["message"]
    await refused(
        operator,
        service,
        "revokeEligibility",
        {"donorCode": "DNR-0001", "reason": "look-back"},
        "FORBIDDEN",
    )

    await run(physician, "determineEligibility", decision)
    await run(physician, "revokeEligibility", {"donorCode": "DNR-0001", "reason": "look-back"})


# ------------------------------------------------------------------------- the donor test panel


async def test_an_eligible_determination_needs_a_negative_result_for_every_marker_of_the_panel(
    gql: GraphQL, service, t
):
    await network(gql, t)
    await run(gql, "registerDonor", {"donorCode": "DNR-0001", "siteId": HOSPITAL})
    await run(
        gql,
        "recordConsent",
        {"donorCode": "DNR-0001", "consentReference": "ICF-1", "signedAt": t(-40)},
    )
    assays = [
        {"test": "HIV-1/2 NAT", "result": "not detected", "reactive": False},
        {"test": "HBsAg", "result": "non-reactive", "reactive": False},
        {"test": "anti-HCV", "result": "non-reactive", "reactive": False},
        {"test": "Full blood count", "result": "normal", "reactive": False},
    ]

    error = await refused(
        gql, service, "determineEligibility", eligibility("DNR-0001", t, assays), "RULE_VIOLATION"
    )
    assert "missing SYPHILIS" in error["message"]
    not_negative = [*assays, {"test": "TPPA", "result": "reactive", "reactive": True}]
    await refused(
        gql,
        service,
        "determineEligibility",
        eligibility("DNR-0001", t, not_negative),
        "RULE_VIOLATION",
    )

    negative = [*assays, {"test": "TPPA", "result": "non-reactive", "reactive": False}]
    await run(gql, "determineEligibility", eligibility("DNR-0001", t, negative))


# ------------------------------------------------------------ W-18: minors and legal capacity


def consent(t: Timeline, **more: Any) -> dict[str, Any]:
    return {"donorCode": "DNR-MINOR", "consentReference": "ICF-MINOR", "signedAt": t(-40), **more}


@pytest.mark.parametrize(
    "personal",
    [
        {"name": "Lin Xiao-Mei", "dateOfBirth": "2015-06-01"},
        {"name": "Wang Da-Wei", "dateOfBirth": "1960-01-01", "fullCapacity": False},
    ],
    ids=["born-2015", "without-full-capacity"],
)
async def test_w18_a_minor_or_a_donor_without_capacity_consents_only_with_a_representative(
    gql: GraphQL, service, t, personal
):
    await network(gql, t)
    await run(
        gql,
        "registerDonor",
        {"donorCode": "DNR-MINOR", "siteId": HOSPITAL, "personalData": personal},
    )

    error = await refused(gql, service, "recordConsent", consent(t), "RULE_VIOLATION")
    assert "cannot consent alone" in error["message"]
    assert personal["dateOfBirth"] not in json.dumps(error)
    unnotarised = consent(t, legalRepresentative="Lin Wen-Hua (parent)")
    await refused(gql, service, "recordConsent", unnotarised, "RULE_VIOLATION")

    await run(gql, "recordConsent", {**unnotarised, "notarised": True})
    assert personal["dateOfBirth"].encode() not in stored_events(service)


async def test_an_adult_with_capacity_consents_alone(gql: GraphQL, service, t):
    await network(gql, t)
    adult = {"name": "Chen Wei", "dateOfBirth": "1979-04-02"}
    await run(
        gql, "registerDonor", {"donorCode": "DNR-MINOR", "siteId": HOSPITAL, "personalData": adult}
    )

    await run(gql, "recordConsent", consent(t))


async def test_an_unreadable_date_of_birth_is_refused_at_registration(gql: GraphQL, service, t):
    await network(gql, t)
    bad = {"donorCode": "DNR-MINOR", "personalData": {"dateOfBirth": "01/06/2015"}}

    error = await refused(gql, service, "registerDonor", bad, "BAD_INPUT")
    assert "01/06/2015" not in error["message"]


def stored_events(service) -> bytes:
    """Every stored event's bytes, to show a date of birth is never kept in clear."""
    with service.read() as sql:
        rows = sql.all("SELECT state FROM stored_events")
    assert rows
    assert ledger_size(service) == len(rows)
    return b"".join(bytes(row["state"]) for row in rows)


# ------------------------------------------------------------------------ events are contracts


async def test_a_donation_stored_before_the_source_tissue_was_coded_loads_without_a_code(
    gql: GraphQL, service, t
):
    await network(gql, t)
    await donor_with_donation(gql, t)
    stored = next(iter(service.app.recorder.select_events(Donation.ledger_id(DIN))))
    mapper = service.app.mapper
    state = mapper.transcoder.decode(stored.state)
    assert state["source_tissue"] == "PERIPHERAL_BLOOD_APHERESIS"
    assert state.pop("class_version") == 3
    del state["source_tissue"]
    state["class_version"] = 2
    old = type(stored)(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=mapper.transcoder.encode(state),
    )

    event = mapper.to_domain_event(old)

    assert isinstance(event, Donation.Recorded)
    assert event.source_tissue is None  # nothing is guessed from the free text
    assert event.material == "Leukapheresis product"
