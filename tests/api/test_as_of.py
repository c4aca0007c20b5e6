"""``asOf``: a query answers exactly what a replay of the ledger up to that moment would show."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from tests.api.client import GraphQL
from tests.api.documents import (
    CONTROL,
    SITE,
    SITES,
    SPOKE,
    SUSPEND_SITE,
    active_network,
    change,
    control_site,
    eu_spoke,
    links,
    register,
    site,
)


async def moment() -> datetime:
    """Now, with the clock moved on a little either side so that recorded times differ."""
    await asyncio.sleep(0.01)
    now = datetime.now(UTC)
    await asyncio.sleep(0.01)
    return now


async def test_a_suspended_spoke_was_still_active_in_the_union_database_before_its_suspension(
    gql: GraphQL,
):
    await active_network(gql)
    before_suspension = (await moment()).isoformat()

    data = await gql.data(
        SUSPEND_SITE,
        {"input": {"siteId": SPOKE, "reason": "HEPA filter integrity test failed"}},
    )
    suspended_at = data["suspendSite"]["position"]

    now = await links(gql)
    then = await links(gql, asOf=before_suspension)

    assert [(x["decentralisedSite"]["id"], x["status"]) for x in now] == [(SPOKE, "SUSPENDED")]
    assert [(x["decentralisedSite"]["id"], x["status"]) for x in then] == [(SPOKE, "ACTIVE")]
    assert now[0]["decentralisedSite"]["status"] == "SUSPENDED"
    assert then[0]["decentralisedSite"]["status"] == "ACTIVE"
    assert [h["status"] for h in now[0]["history"]] == ["REGISTERED", "ACTIVE", "SUSPENDED"]
    assert now[0]["history"][-1]["position"] == suspended_at
    assert now[0]["history"][-1]["reason"] == "HEPA filter integrity test failed"
    assert [h["status"] for h in then[0]["history"]] == ["REGISTERED", "ACTIVE"]
    assert all(h["position"] < suspended_at for h in then[0]["history"])


async def test_a_suspended_spoke_was_still_active_as_one_site_before_its_suspension(
    gql: GraphQL,
):
    await active_network(gql)
    before_suspension = (await moment()).isoformat()
    await change(gql, "suspendSite", SPOKE, "HEPA filter integrity test failed")

    now = await site(gql, SPOKE)
    then = await site(gql, SPOKE, as_of=before_suspension)

    assert now is not None
    assert then is not None
    assert now["status"] == "SUSPENDED"
    assert then["status"] == "ACTIVE"
    assert [h["status"] for h in then["history"]] == ["REGISTERED", "ACTIVE"]


async def test_as_of_in_another_offset_names_the_same_moment(gql: GraphQL):
    await active_network(gql)
    before_suspension = (await moment()).astimezone(timezone(timedelta(hours=8))).isoformat()
    await change(gql, "suspendSite", SPOKE, "HEPA filter integrity test failed")

    then = await site(gql, SPOKE, as_of=before_suspension)
    then_links = await links(gql, asOf=before_suspension)

    assert then is not None
    assert then["status"] == "ACTIVE"
    assert [x["status"] for x in then_links] == ["ACTIVE"]


async def test_a_control_site_suspension_is_not_shown_on_its_spoke_as_of_before_it(
    gql: GraphQL,
):
    await active_network(gql)
    before_suspension = (await moment()).isoformat()
    await change(gql, "suspendSite", CONTROL, "QP left")

    now = await site(gql, SPOKE)
    then = await site(gql, SPOKE, as_of=before_suspension)

    assert now is not None
    assert then is not None
    assert (now["controlSiteStatus"], now["effectiveStatus"]) == ("SUSPENDED", "SUSPENDED")
    assert (then["controlSiteStatus"], then["effectiveStatus"]) == ("ACTIVE", "ACTIVE")


async def test_a_site_registered_after_the_moment_did_not_exist_then(gql: GraphQL):
    await register(gql, control_site())
    before_spoke = (await moment()).isoformat()
    await register(gql, eu_spoke())

    assert await site(gql, SPOKE, as_of=before_spoke) is None
    assert await links(gql, asOf=before_spoke) == []
    sites_then = await gql.data(SITES, {"asOf": before_spoke})
    assert [s["id"] for s in sites_then["sites"]] == [CONTROL]


async def test_as_of_before_anything_was_recorded_answers_nothing(gql: GraphQL):
    before_anything = (await moment()).isoformat()
    await active_network(gql)

    assert await site(gql, CONTROL, as_of=before_anything) is None
    assert await site(gql, CONTROL, as_of="2000-01-01T00:00:00+00:00") is None
    assert await links(gql, asOf=before_anything) == []
    assert (await gql.data(SITES, {"asOf": before_anything})) == {"sites": []}


async def test_as_of_in_the_future_answers_as_now(gql: GraphQL):
    await active_network(gql)
    await change(gql, "suspendSite", SPOKE, "Sterility failure")

    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    assert [x["status"] for x in await links(gql, asOf=later)] == ["SUSPENDED"]


async def test_as_of_without_a_utc_offset_is_bad_input(gql: GraphQL):
    await active_network(gql)

    body = await gql(SITE, {"id": SPOKE, "asOf": "2026-01-01T00:00:00"})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
    assert "offset" in body["errors"][0]["message"]
    assert (body.get("data") or {}).get("site") is None


async def test_as_of_without_a_utc_offset_is_bad_input_for_union_database_links(gql: GraphQL):
    body = await gql('query { unionDatabaseSiteLinks(asOf: "2026-01-01T00:00:00") { status } }')

    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_INPUT"]
    assert body.get("data") is None


async def test_as_of_the_very_moment_an_event_was_recorded_includes_it(gql: GraphQL):
    await active_network(gql)
    await change(gql, "suspendSite", SPOKE, "Sterility failure")
    data = await gql.data(
        "query History($id: ID!) { site(id: $id) { history { status position recordedAt } } }",
        {"id": SPOKE},
    )
    suspension = data["site"]["history"][-1]
    assert suspension["status"] == "SUSPENDED"
    recorded = datetime.fromisoformat(suspension["recordedAt"])

    at = await site(gql, SPOKE, as_of=recorded.isoformat())
    just_before = await site(gql, SPOKE, as_of=(recorded - timedelta(microseconds=1)).isoformat())

    assert at is not None
    assert just_before is not None
    assert at["status"] == "SUSPENDED"
    assert just_before["status"] == "ACTIVE"


async def test_one_answer_never_mixes_two_moments(gql: GraphQL):
    await active_network(gql)
    before_suspension = (await moment()).isoformat()
    await change(gql, "suspendSite", CONTROL, "QP left")

    data = await gql.data(
        "query Both($t: DateTime) {"
        " links: unionDatabaseSiteLinks(asOf: $t) { centralSite { status } status }"
        " sites(asOf: $t) { id status } }",
        {"t": before_suspension},
    )

    assert [(x["centralSite"]["status"], x["status"]) for x in data["links"]] == [
        ("ACTIVE", "ACTIVE")
    ]
    assert [(s["id"], s["status"]) for s in data["sites"]] == [  # in id order
        (CONTROL, "ACTIVE"),
        (SPOKE, "ACTIVE"),
    ]
