"""Adverse reactions as each regulator requires them (issue 17, part 2), through the API on both
databases: every deadline rule of domain/data/adverse_reaction_deadlines.json shown on a case
against a date computed here from the rule; several authorities per case; follow-up information
(a fatal outcome shortens the deadline); initial and follow-up submissions; overdue lists per
institution and per control site; long-term follow-up visits due and overdue and their records;
reportable deviations with their 45-day deadline; each refusal with its code and nothing stored;
a rebuild writes exactly the rows written live."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

import domain
from api.wiring import Regentrace
from projections import rebuild
from projections.adverse_events import TABLES as CASE_TABLES
from projections.vigilance import TABLES as VIGILANCE_TABLES
from tests.api.chain_documents import CONTROL, HOSPITAL, SPOKE, Timeline, moment
from tests.api.client import GraphQL
from tests.api.test_use_time_gates import administered, licensed_network, lot, made
from tests.conftest import ledger_size
from tests.integration.test_projections import dump

DATA = json.loads(
    (Path(domain.__file__).parent / "data" / "adverse_reaction_deadlines.json").read_text("utf-8")
)
RULES = {r["rule"]: r for r in DATA["rules"]}
FOLLOW_UP = json.loads(
    (Path(domain.__file__).parent / "data" / "long_term_follow_up.json").read_text("utf-8")
)

CASES = """
query Cases($filter: AdverseEventFilter, $asOf: DateTime) {
  adverseEvents(filter: $filter, asOf: $asOf) {
    id serious criteria expected context taiwanRegime reportingDeadline overdue
    submittedToAuthorityAt
    requiredReports {
      key jurisdiction authority kind rule source dueAt submittedAt overdue submittedLate
    }
    submissions { jurisdiction authority kind submittedAt requiredReport }
    followUps { receivedAt information serious criteria expected }
  }
}
"""
VISITS = """
query Visits($filter: FollowUpVisitFilter, $asOf: DateTime) {
  followUpVisits(filter: $filter, asOf: $asOf) {
    batchId patientCode product siteId visit monthsAfterAdministration kind dueAt windowFrom
    windowTo status visitedAt outcome source administeredAt
  }
}
"""
DEVIATIONS = """
query Deviations($filter: ReportableDeviationFilter, $asOf: DateTime) {
  reportableDeviations(filter: $filter, asOf: $asOf) {
    batchId deviationId siteId controlSiteId jurisdiction authority rule source discoveredAt
    dueAt submittedAt submittedTo overdue
  }
}
"""
MASTER_FILE = """
query ($id: ID!, $asOf: DateTime) {
  dmMasterFile(controlSiteId: $id, asOf: $asOf) {
    reportableDeviations { batchId deviationId dueAt overdue submittedAt }
  }
}
"""
INPUTS = {
    "reportAdverseEvent": "ReportAdverseEventInput",
    "submitAdverseEventToAuthority": "SubmitAdverseEventInput",
    "recordAdverseEventFollowUp": "RecordAdverseEventFollowUpInput",
    "recordFollowUpVisit": "RecordFollowUpVisitInput",
    "markDeviationReportable": "MarkDeviationReportableInput",
    "submitDeviationReport": "SubmitDeviationReportInput",
    "openDeviation": "OpenDeviationInput",
}


def document(field: str) -> str:
    return (
        f"mutation ($input: {INPUTS[field]}!) "
        f"{{ {field}(input: $input) {{ position aggregateId version }} }}"
    )


async def send(gql: GraphQL, field: str, input: dict[str, Any]) -> dict[str, Any]:
    data = await gql.data(document(field), {"input": input})
    return dict(data[field])


async def refused(
    gql: GraphQL, service: Regentrace, field: str, input: dict[str, Any], code: str
) -> dict[str, Any]:
    """Refused with ``code``, and the ledger did not grow."""
    before = ledger_size(service)
    body = await gql(document(field), {"input": input})
    assert ledger_size(service) == before, "a refused command stored something"
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert (body.get("data") or {}).get(field) is None
    error: dict[str, Any] = body["errors"][0]
    return error


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def due_by_rule(rule: dict[str, Any], aware: datetime) -> datetime:
    """The deadline as this test reads the rule: ``days`` after awareness, or, counted from the
    day after the day of awareness in the rule's calendar, to the last instant of the last day."""
    if rule["clock_starts"] == "day_after_awareness":
        zone = datetime.strptime(rule["utc_offset"], "%z").tzinfo
        last_day = aware.astimezone(zone).date() + timedelta(days=rule["days"])
        return datetime.combine(last_day, time.max, tzinfo=zone)
    assert rule["clock_starts"] == "awareness", rule
    return aware + timedelta(days=rule["days"])


def old_timeline() -> Timeline:
    """A timeline whose administration (day -9) lies over a year back: follow-up visits due."""
    return Timeline(datetime.now(UTC).replace(microsecond=0) - timedelta(days=420))


async def treated(gql: GraphQL, t: Timeline) -> str:
    await licensed_network(gql, t)
    await lot(gql, t)
    return await administered(gql, t, 1)


def case(t: Timeline, batch: str, case_id: str, **more: Any) -> dict[str, Any]:
    return {
        "adverseEventId": case_id,
        "batchId": batch,
        "patientCode": "PT-1",
        "reportedBySiteId": HOSPITAL,
        "serious": True,
        "description": "Cytokine release syndrome",
        "onsetAt": t(-8.5),
        "awareAt": t(-8),
        **more,
    }


async def cases(gql: GraphQL, **variables: Any) -> dict[str, dict[str, Any]]:
    data = await gql.data(CASES, variables)
    return {c["id"]: c for c in data["adverseEvents"]}


def report_of(found: dict[str, Any], key: str) -> dict[str, Any]:
    (report,) = [r for r in found["requiredReports"] if r["key"] == key]
    return report


# Each rule of the data file and a case it governs: the fields sent, and the jurisdiction whose
# required report shows the rule (the reporting hospital is Taiwanese; another jurisdiction is
# named in alsoReportTo).
RULE_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "TW-TECHNOLOGY-SERIOUS": ({"criteria": ["HOSPITALISATION"]}, "TW"),
    "TW-PRODUCT-FATAL": ({"criteria": ["DEATH"], "taiwanRegime": "PRODUCT"}, "TW"),
    "TW-PRODUCT-SERIOUS": ({"criteria": ["DISABILITY"], "taiwanRegime": "PRODUCT"}, "TW"),
    "TW-PERIODIC": ({"serious": False}, "TW"),
    "EU-TRIAL-FATAL": (
        {"criteria": ["LIFE_THREATENING"], "context": "CLINICAL_TRIAL", "expected": False},
        "EU",
    ),
    "EU-TRIAL-SERIOUS": ({"criteria": ["HOSPITALISATION"], "context": "CLINICAL_TRIAL"}, "EU"),
    "EU-MARKETED-SERIOUS": ({"criteria": ["DEATH"], "context": "MARKETED"}, "EU"),
    "EU-PERIODIC": (
        {"criteria": ["HOSPITALISATION"], "context": "CLINICAL_TRIAL", "expected": True},
        "EU",
    ),
    "UK-TRIAL-FATAL": ({"context": "CLINICAL_TRIAL"}, "UK"),  # no criteria: the strictest
    "UK-TRIAL-SERIOUS": ({"criteria": ["CONGENITAL_ANOMALY"], "context": "CLINICAL_TRIAL"}, "UK"),
    "UK-MARKETED-SERIOUS": ({"criteria": ["OTHER_MEDICALLY_IMPORTANT"]}, "UK"),
    "UK-PERIODIC": ({"serious": False, "context": "CLINICAL_TRIAL"}, "UK"),
    "US-IND-FATAL": ({"criteria": ["DEATH"], "context": "CLINICAL_TRIAL"}, "US"),
    "US-IND-SERIOUS": ({"criteria": ["DISABILITY"], "context": "CLINICAL_TRIAL"}, "US"),
    "US-MARKETED-SERIOUS": ({"criteria": ["HOSPITALISATION"], "expected": False}, "US"),
    "US-PERIODIC": ({"criteria": ["HOSPITALISATION"], "expected": True}, "US"),
}


def test_every_rule_of_the_data_file_has_a_case_here() -> None:
    assert set(RULE_CASES) == set(RULES)
    for rule in RULES.values():
        assert rule["source"].strip(), rule


async def test_every_deadline_rule_is_shown_on_a_case_with_its_computed_date(
    gql: GraphQL,
) -> None:
    t = old_timeline()
    batch = await treated(gql, t)
    for n, (_, (fields, jurisdiction)) in enumerate(sorted(RULE_CASES.items())):
        more = {**fields}
        if jurisdiction != "TW":
            more["alsoReportTo"] = [jurisdiction]
        await send(gql, "reportAdverseEvent", case(t, batch, f"AE-{n}", **more))
    found = await cases(gql)
    aware = t.at(-8)
    for n, (rule_id, (_, jurisdiction)) in enumerate(sorted(RULE_CASES.items())):
        shown = found[f"AE-{n}"]
        report = report_of(shown, f"{jurisdiction}/INITIAL")
        assert report["rule"] == rule_id, (rule_id, shown)
        assert report["source"] == RULES[rule_id]["source"]
        assert report["authority"] == DATA["authorities"][jurisdiction]
        assert instant(report["dueAt"]) == due_by_rule(RULES[rule_id], aware), rule_id
        assert report["kind"] == "INITIAL"
        # The case's deadline is its earliest open report, whichever authority it is owed to.
        earliest = min(instant(r["dueAt"]) for r in shown["requiredReports"])  # type: ignore[type-var]
        assert instant(shown["reportingDeadline"]) == earliest
        expected_reports = {"TW/INITIAL"} | {f"{jurisdiction}/INITIAL"}
        assert {r["key"] for r in shown["requiredReports"]} == expected_reports
    # A serious case without criteria was held to the strictest rule; unknown expectedness
    # counted as unexpected (a trial case with no 'expected' went to the 15-day SUSAR rule).
    assert found[f"AE-{sorted(RULE_CASES).index('UK-TRIAL-FATAL')}"]["criteria"] == []
    assert found[f"AE-{sorted(RULE_CASES).index('EU-TRIAL-SERIOUS')}"]["expected"] is None


async def test_several_authorities_each_get_their_submission_and_the_case_deadline_moves_on(
    gql: GraphQL, service: Regentrace
) -> None:
    t = old_timeline()
    batch = await treated(gql, t)
    fields = {"criteria": ["DEATH"], "context": "CLINICAL_TRIAL", "alsoReportTo": ["EU", "US"]}
    await send(gql, "reportAdverseEvent", case(t, batch, "AE-MULTI", **fields))
    aware = t.at(-8)
    shown = (await cases(gql))["AE-MULTI"]
    assert {r["key"]: r["rule"] for r in shown["requiredReports"]} == {
        "TW/INITIAL": "TW-TECHNOLOGY-SERIOUS",
        "EU/INITIAL": "EU-TRIAL-FATAL",
        "US/INITIAL": "US-IND-FATAL",
    }
    assert instant(shown["reportingDeadline"]) == aware + timedelta(days=7)
    assert shown["overdue"] is True
    before_submissions = await moment()

    submit = {"adverseEventId": "AE-MULTI", "authority": "Paul-Ehrlich-Institut"}
    await send(
        gql, "submitAdverseEventToAuthority", submit | {"submittedAt": t(-7), "reportTo": "EU"}
    )
    await send(
        gql,
        "submitAdverseEventToAuthority",
        submit | {"authority": "FDA", "submittedAt": t(-6), "reportTo": "US"},
    )
    shown = (await cases(gql))["AE-MULTI"]
    # Only Taiwan's report is open now: the case's deadline is Taiwan's.
    assert instant(shown["reportingDeadline"]) == due_by_rule(RULES["TW-TECHNOLOGY-SERIOUS"], aware)
    assert instant(shown["submittedToAuthorityAt"]) == t.at(-7)
    assert [(s["jurisdiction"], s["kind"], s["requiredReport"]) for s in shown["submissions"]] == [
        ("EU", "INITIAL", "EU/INITIAL"),
        ("US", "INITIAL", "US/INITIAL"),
    ]
    assert shown["overdue"] is True  # Taiwan's deadline has passed unsubmitted
    # As of before the submissions were recorded, none was shown.
    then = (await cases(gql, asOf=before_submissions))["AE-MULTI"]
    assert then["submissions"] == []
    assert instant(then["reportingDeadline"]) == aware + timedelta(days=7)

    # A second initial report to the same authority is refused; so is one to an authority the
    # case does not go to; nothing is stored.
    again = submit | {"submittedAt": t(-5), "reportTo": "EU"}
    error = await refused(gql, service, "submitAdverseEventToAuthority", again, "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "INITIAL_ALREADY_SUBMITTED"
    elsewhere = submit | {"submittedAt": t(-5), "reportTo": "UK"}
    await refused(gql, service, "submitAdverseEventToAuthority", elsewhere, "BAD_INPUT")
    # A follow-up before the authority had the initial report is refused.
    early = submit | {"submittedAt": t(-5), "kind": "FOLLOW_UP"}
    error = await refused(gql, service, "submitAdverseEventToAuthority", early, "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "NO_INITIAL_REPORT"

    await send(
        gql, "submitAdverseEventToAuthority", submit | {"authority": "TFDA", "submittedAt": t(0)}
    )
    shown = (await cases(gql))["AE-MULTI"]
    assert shown["overdue"] is False
    late = {r["key"]: r["submittedLate"] for r in shown["requiredReports"]}
    assert late == {"TW/INITIAL": True, "EU/INITIAL": False, "US/INITIAL": False}


async def test_a_fatal_follow_up_shortens_the_deadline_and_follow_ups_are_accepted(
    gql: GraphQL, service: Regentrace
) -> None:
    t = old_timeline()
    batch = await treated(gql, t)
    fields = {"criteria": ["HOSPITALISATION"], "context": "CLINICAL_TRIAL", "alsoReportTo": ["EU"]}
    await send(gql, "reportAdverseEvent", case(t, batch, "AE-FU", **fields))
    aware = t.at(-8)
    before = report_of((await cases(gql))["AE-FU"], "EU/INITIAL")
    assert (before["rule"], instant(before["dueAt"])) == (
        "EU-TRIAL-SERIOUS",
        aware + timedelta(days=15),
    )

    before_follow_up = await moment()
    # The patient died: new information two days later. The EU report, not yet sent, is now
    # due 7 days from the day the information arrived, earlier than the 15 days first owed.
    death = {"adverseEventId": "AE-FU", "information": "Patient died (CRS grade 5)"}
    await send(
        gql, "recordAdverseEventFollowUp", death | {"receivedAt": t(-6), "criteria": ["DEATH"]}
    )
    shown = (await cases(gql))["AE-FU"]
    after = report_of(shown, "EU/INITIAL")
    assert (after["rule"], instant(after["dueAt"])) == (
        "EU-TRIAL-FATAL",
        t.at(-6) + timedelta(days=7),
    )
    assert instant(after["dueAt"]) < instant(before["dueAt"])  # type: ignore[operator]
    assert shown["criteria"] == ["DEATH"]
    assert [f["information"] for f in shown["followUps"]] == ["Patient died (CRS grade 5)"]
    # As of before the follow-up, the first deadline stood.
    then = report_of((await cases(gql, asOf=before_follow_up))["AE-FU"], "EU/INITIAL")
    assert instant(then["dueAt"]) == aware + timedelta(days=15)

    # The initial reports go; then new information opens a follow-up report per authority,
    # due from its arrival, and the follow-up submission fulfils it.
    base = {"adverseEventId": "AE-FU", "authority": "PEI", "reportTo": "EU"}
    await send(gql, "submitAdverseEventToAuthority", base | {"submittedAt": t(-5)})
    await send(
        gql,
        "submitAdverseEventToAuthority",
        {"adverseEventId": "AE-FU", "authority": "TFDA", "submittedAt": t(-5)},
    )
    autopsy = {"adverseEventId": "AE-FU", "information": "Autopsy report", "receivedAt": t(-3)}
    await send(gql, "recordAdverseEventFollowUp", autopsy)
    shown = (await cases(gql))["AE-FU"]
    follow_up = report_of(shown, "EU/FOLLOW_UP/2")
    assert (follow_up["kind"], follow_up["rule"]) == ("FOLLOW_UP", "EU-TRIAL-FATAL")
    assert instant(follow_up["dueAt"]) == t.at(-3) + timedelta(days=7)
    assert instant(shown["reportingDeadline"]) == min(
        instant(r["dueAt"])
        for r in shown["requiredReports"]
        if r["submittedAt"] is None  # type: ignore[type-var]
    )
    await send(
        gql, "submitAdverseEventToAuthority", base | {"submittedAt": t(-2), "kind": "FOLLOW_UP"}
    )
    shown = (await cases(gql))["AE-FU"]
    assert instant(report_of(shown, "EU/FOLLOW_UP/2")["submittedAt"]) == t.at(-2)
    assert [s["kind"] for s in shown["submissions"]] == ["INITIAL", "INITIAL", "FOLLOW_UP"]

    # Information dated before the case was known is refused; so is an unknown case.
    early = {"adverseEventId": "AE-FU", "information": "x", "receivedAt": t(-9)}
    await refused(gql, service, "recordAdverseEventFollowUp", early, "RULE_VIOLATION")
    unknown = {"adverseEventId": "AE-NONE", "information": "x", "receivedAt": t(-3)}
    await refused(gql, service, "recordAdverseEventFollowUp", unknown, "NOT_FOUND")


async def test_contradictory_seriousness_and_unknown_codes_are_refused_and_store_nothing(
    gql: GraphQL, service: Regentrace
) -> None:
    t = old_timeline()
    batch = await treated(gql, t)
    contradiction = case(t, batch, "AE-X", serious=False, criteria=["HOSPITALISATION"])
    error = await refused(gql, service, "reportAdverseEvent", contradiction, "BAD_INPUT")
    assert error["extensions"]["reason"] == "SERIOUSNESS_CONTRADICTION"
    elsewhere = case(t, batch, "AE-X", alsoReportTo=["JP"])
    await refused(gql, service, "reportAdverseEvent", elsewhere, "BAD_INPUT")
    await send(gql, "reportAdverseEvent", case(t, batch, "AE-X"))
    downgrade = {
        "adverseEventId": "AE-X",
        "information": "re-assessed",
        "receivedAt": t(-7),
        "serious": False,
        "criteria": ["DEATH"],
    }
    error = await refused(gql, service, "recordAdverseEventFollowUp", downgrade, "BAD_INPUT")
    assert error["extensions"]["reason"] == "SERIOUSNESS_CONTRADICTION"


async def test_overdue_lists_per_institution_and_per_control_site(gql: GraphQL) -> None:
    t = old_timeline()
    batch = await treated(gql, t)
    await send(gql, "reportAdverseEvent", case(t, batch, "AE-LATE"))
    # Not serious, known since yesterday: due in the periodic report, not overdue.
    periodic = case(t, batch, "AE-PERIODIC", serious=False, onsetAt=t(419.8), awareAt=t(419.9))
    await send(gql, "reportAdverseEvent", periodic)
    await send(gql, "reportAdverseEvent", case(t, batch, "AE-SENT"))
    sent = {"adverseEventId": "AE-SENT", "authority": "TFDA", "submittedAt": t(-7)}
    await send(gql, "submitAdverseEventToAuthority", sent)
    at_institution = await cases(gql, filter={"siteId": HOSPITAL, "overdue": True})
    at_control_site = await cases(gql, filter={"controlSiteId": CONTROL, "overdue": True})
    assert set(at_institution) == set(at_control_site) == {"AE-LATE"}
    assert set(await cases(gql, filter={"controlSiteId": CONTROL, "overdue": False})) == {
        "AE-PERIODIC",
        "AE-SENT",
    }
    assert await cases(gql, filter={"controlSiteId": SPOKE}) == {}
    # A case known since yesterday is not yet overdue: Taiwan's 7 days run to the end of the
    # seventh day after awareness.
    recent = case(t, batch, "AE-RECENT", onsetAt=t(419.8), awareAt=t(419.9))
    await send(gql, "reportAdverseEvent", recent)
    found = await cases(gql, filter={"siteId": HOSPITAL})
    assert found["AE-RECENT"]["overdue"] is False
    assert instant(found["AE-RECENT"]["reportingDeadline"]) == due_by_rule(
        RULES["TW-TECHNOLOGY-SERIOUS"], t.at(419.9)
    )
    assert set(await cases(gql, filter={"siteId": HOSPITAL, "overdue": True})) == {"AE-LATE"}


async def test_long_term_follow_up_visits_due_overdue_and_recorded(
    gql: GraphQL, service: Regentrace
) -> None:
    t = old_timeline()
    batch = await treated(gql, t)  # administered at day -9, over a year ago
    given = t.at(-9)
    schedule = FOLLOW_UP["CART-CD19-AUTO"]
    window = timedelta(days=schedule["window_days"])
    now = datetime.now(UTC)
    visits = (await gql.data(VISITS, {"filter": {"siteId": HOSPITAL}}))["followUpVisits"]
    expected = []
    for n, months in enumerate(schedule["visits_months"], start=1):
        due = _add_months(given, months)
        if now < due - window:
            expected.append((n, "UPCOMING"))
            break
        expected.append((n, "DUE" if now <= due + window else "OVERDUE"))
    assert [(v["visit"], v["status"]) for v in visits] == expected
    assert [v["status"] for v in visits][:2] == ["OVERDUE", "OVERDUE"]
    assert visits[0]["kind"] == "EXAMINATION"
    assert visits[0]["source"] == schedule["source"]
    assert instant(visits[0]["dueAt"]) == _add_months(given, 3)
    overdue = await gql.data(VISITS, {"filter": {"controlSiteId": CONTROL, "overdue": True}})
    assert [v["visit"] for v in overdue["followUpVisits"]] == [
        n for n, s in expected if s == "OVERDUE"
    ]

    visit = {
        "batchId": batch,
        "patientCode": "PT-1",
        "visit": 1,
        "status": "COMPLETED",
        "visitedAt": t(85),
        "siteId": HOSPITAL,
        "outcome": "No malignancy; CAR transgene detectable; RCL negative",
    }
    before_record = await moment()
    await send(gql, "recordFollowUpVisit", visit)
    visits = (await gql.data(VISITS, {"filter": {"batchId": batch}}))["followUpVisits"]
    first = visits[0]
    assert (first["status"], instant(first["visitedAt"]), first["outcome"]) == (
        "COMPLETED",
        t.at(85),
        visit["outcome"],
    )
    # As of before the record, the visit was overdue (its window had closed by then).
    then = await gql.data(VISITS, {"filter": {"batchId": batch}, "asOf": before_record})
    assert then["followUpVisits"][0]["status"] == "OVERDUE"

    # Refusals: the same visit again, a visit outside the schedule, before the administration,
    # a patient the batch was not given to; nothing is stored.
    await refused(gql, service, "recordFollowUpVisit", visit, "CONFLICT")
    await refused(gql, service, "recordFollowUpVisit", visit | {"visit": 99}, "BAD_INPUT")
    await refused(
        gql,
        service,
        "recordFollowUpVisit",
        visit | {"visit": 2, "visitedAt": t(-10)},
        "RULE_VIOLATION",
    )
    await refused(
        gql,
        service,
        "recordFollowUpVisit",
        visit | {"visit": 2, "patientCode": "PT-9"},
        "RULE_VIOLATION",
    )
    # Deceased ends the schedule: no visit is due after it, and none can be recorded.
    died = visit | {"visit": 2, "status": "DECEASED", "visitedAt": t(170), "outcome": "Died"}
    await send(gql, "recordFollowUpVisit", died)
    visits = (await gql.data(VISITS, {"filter": {"batchId": batch}}))["followUpVisits"]
    assert [(v["visit"], v["status"]) for v in visits] == [(1, "COMPLETED"), (2, "DECEASED")]
    after = visit | {"visit": 3, "visitedAt": t(300)}
    error = await refused(gql, service, "recordFollowUpVisit", after, "RULE_VIOLATION")
    assert error["extensions"]["reason"] == "FOLLOW_UP_ENDED"


def _add_months(at: datetime, months: int) -> datetime:
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    day = at.day
    while True:
        try:
            return at.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


async def test_a_reportable_deviation_is_due_45_days_from_discovery_and_its_report_recorded(
    gql: GraphQL, service: Regentrace
) -> None:
    t = old_timeline()
    await licensed_network(gql, t)
    await lot(gql, t)
    batch = await made(gql, t, 2)
    opened = {"batchId": batch, "deviationId": "DEV-1", "description": "Cell count out of range"}
    await send(gql, "openDeviation", opened)
    mark = {"batchId": batch, "deviationId": "DEV-1", "discoveredAt": t(-19), "jurisdiction": "US"}

    await refused(
        gql, service, "markDeviationReportable", mark | {"jurisdiction": "TW"}, "BAD_INPUT"
    )
    await refused(
        gql, service, "markDeviationReportable", mark | {"deviationId": "DEV-9"}, "RULE_VIOLATION"
    )
    await refused(
        gql, service, "markDeviationReportable", mark | {"discoveredAt": t(-21)}, "RULE_VIOLATION"
    )
    await send(gql, "markDeviationReportable", mark)
    await refused(gql, service, "markDeviationReportable", mark, "CONFLICT")

    rule = json.loads(
        (Path(domain.__file__).parent / "data" / "deviation_reporting.json").read_text("utf-8")
    )["US"]
    assert rule["days"] == 45
    (shown,) = (await gql.data(DEVIATIONS, {}))["reportableDeviations"]
    assert instant(shown["dueAt"]) == t.at(-19) + timedelta(days=45)
    assert (shown["rule"], shown["source"], shown["authority"]) == (
        rule["rule"],
        rule["source"],
        rule["authority"],
    )
    assert (shown["siteId"], shown["controlSiteId"], shown["overdue"]) == (SPOKE, CONTROL, True)
    overdue = await gql.data(DEVIATIONS, {"filter": {"controlSiteId": CONTROL, "overdue": True}})
    assert len(overdue["reportableDeviations"]) == 1
    in_time = await gql.data(
        DEVIATIONS, {"asOf": None, "filter": {"overdue": True, "siteId": HOSPITAL}}
    )
    assert in_time["reportableDeviations"] == []

    report = {"batchId": batch, "deviationId": "DEV-1", "authority": "FDA CBER"}
    await refused(
        gql, service, "submitDeviationReport", report | {"submittedAt": t(-20)}, "RULE_VIOLATION"
    )
    before_report = await moment()
    await send(gql, "submitDeviationReport", report | {"submittedAt": t(30)})
    await refused(
        gql, service, "submitDeviationReport", report | {"submittedAt": t(31)}, "RULE_VIOLATION"
    )
    (shown,) = (await gql.data(DEVIATIONS, {}))["reportableDeviations"]
    assert (instant(shown["submittedAt"]), shown["submittedTo"], shown["overdue"]) == (
        t.at(30),
        "FDA CBER",
        False,
    )
    master = await gql.data(MASTER_FILE, {"id": CONTROL})
    (listed,) = master["dmMasterFile"]["reportableDeviations"]
    assert (listed["deviationId"], listed["overdue"]) == ("DEV-1", False)
    then = await gql.data(MASTER_FILE, {"id": CONTROL, "asOf": before_report})
    assert then["dmMasterFile"]["reportableDeviations"][0]["overdue"] is True


async def test_a_rebuild_writes_exactly_the_rows_written_live(
    gql: GraphQL, service: Regentrace
) -> None:
    t = old_timeline()
    batch = await treated(gql, t)
    fields = {"criteria": ["HOSPITALISATION"], "context": "CLINICAL_TRIAL", "alsoReportTo": ["EU"]}
    await send(gql, "reportAdverseEvent", case(t, batch, "AE-R", **fields))
    await send(
        gql,
        "submitAdverseEventToAuthority",
        {"adverseEventId": "AE-R", "authority": "TFDA", "submittedAt": t(-7)},
    )
    info = {
        "adverseEventId": "AE-R",
        "information": "Died",
        "receivedAt": t(-6),
        "criteria": ["DEATH"],
    }
    await send(gql, "recordAdverseEventFollowUp", info)
    visit = {
        "batchId": batch,
        "patientCode": "PT-1",
        "visit": 1,
        "status": "MISSED",
        "visitedAt": t(90),
        "siteId": HOSPITAL,
        "outcome": "Patient did not attend",
    }
    await send(gql, "recordFollowUpVisit", visit)
    other = await made(gql, t, 2)
    await send(gql, "openDeviation", {"batchId": other, "deviationId": "D", "description": "x"})
    mark = {"batchId": other, "deviationId": "D", "discoveredAt": t(-19), "jurisdiction": "US"}
    await send(gql, "markDeviationReportable", mark)
    await send(
        gql,
        "submitDeviationReport",
        {"batchId": other, "deviationId": "D", "authority": "FDA", "submittedAt": t(1)},
    )
    tables = (*CASE_TABLES, *VIGILANCE_TABLES)
    live = dump(service)
    assert all(live[table] for table in tables), [t for t in tables if not live[t]]
    for workers in (1, 2):
        with service.recorder.write() as sql:
            for table in tables:
                sql.execute(f"DELETE FROM {table}")
        rebuild.rebuild(service.recorder, service.app.mapper, workers=workers)
        assert dump(service) == live, workers


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_each_rule_names_a_known_jurisdiction_and_clock(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule["jurisdiction"] in DATA["authorities"]
    assert rule["clock_starts"] in {"awareness", "day_after_awareness"}
    assert rule["days"] > 0


async def test_the_demo_follows_up_a_case_has_a_visit_due_and_a_reportable_deviation(
    gql: GraphQL, service: Regentrace
) -> None:
    from demo.network import UK_CONTROL, seed

    seed(service.app)
    found = await cases(gql, filter={"batchId": "CART-26001"})
    shown = found["AE-CART-26001"]
    assert [s["kind"] for s in shown["submissions"]] == ["INITIAL", "FOLLOW_UP"]
    assert [f["criteria"] for f in shown["followUps"]] == [["HOSPITALISATION"]]
    follow_up = report_of(shown, "TW/FOLLOW_UP/1")
    assert follow_up["submittedAt"] is not None
    assert shown["overdue"] is False

    data = await gql.data(VISITS, {"filter": {"batchId": "CART-26000"}})
    visits = data["followUpVisits"]
    assert [(v["visit"], v["status"]) for v in visits[:2]] == [(1, "COMPLETED"), (2, "COMPLETED")]
    third = visits[2]
    now = datetime.now(UTC)
    window = (instant(third["windowFrom"]), instant(third["windowTo"]))
    assert window[0] is not None
    assert window[1] is not None
    status = "UPCOMING" if now < window[0] else "DUE" if now <= window[1] else "OVERDUE"
    assert (third["visit"], third["status"]) == (3, status)
    assert instant(third["dueAt"]) == _add_months(instant(third["administeredAt"]), 12)  # type: ignore[arg-type]

    master = await gql.data(MASTER_FILE, {"id": UK_CONTROL})
    deviations = master["dmMasterFile"]["reportableDeviations"]
    assert [(d["batchId"], d["deviationId"]) for d in deviations] == [
        ("CART-26006", "OOS-CART-26006")
    ]
    assert deviations[0]["submittedAt"] is None
    assert deviations[0]["overdue"] is True
