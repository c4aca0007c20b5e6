"""Site authorisation and donor protection, as data (domain/data/site_authorisation.json and
domain/data/donor_protection.json), through real GraphQL documents on both databases.

Each W-row of issue 16 is a refusal here: its extensions.code, and a ledger that did not grow
(``refused`` checks it); each is paired with the accepted case next to it, so a rule that refused
everything would fail too.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain import site_authorisation
from domain.site import SiteKind
from tests.api.chain_documents import (
    CONTROL,
    HOSPITAL,
    LAB,
    PATIENT,
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
