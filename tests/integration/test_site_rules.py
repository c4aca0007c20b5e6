"""Every rule the site commands enforce, on SQLite and PostgreSQL: a clear error, nothing stored.

Each refusal is checked for its error class, its ``code`` (what partner systems receive) and an
unchanged ledger (events, ledger index and projection rows alike).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.shared import (
    BadInputError,
    ConflictError,
    DomainError,
    NotFoundError,
    RuleViolationError,
    SiteTerminatedError,
    utcnow,
)
from projections.sites import find_sites
from tests.conftest import ADMIN, ledger_size

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
CTRL = "TW-CTRL"
SPOKE = "TW-MU-1"
STATUS_VERBS = ["activate", "suspend", "reinstate", "terminate"]
SPOKE_KINDS = ["MODULAR_UNIT", "POC_MOBILE", "POC_HEALTHCARE_ESTABLISHMENT", "POC_HOME"]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# ----------------------------------------------------------------------------------- helpers


def register(service, site_id, kind="CONTROL_SITE", *, control=None, at=T0, **overrides):
    fields = {
        "site_id": site_id,
        "name": f"Site {site_id}",
        "kind": kind,
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA",
        # Taiwan licenses control sites, processing sites and medical institutions.
        "licence_number": f"TFDA-{site_id}",
        "control_site_id": control,
        "registered_at": at,
    } | overrides
    return service.app.sites.register_site(ADMIN, **fields)


def change(service, verb, site_id, at=None, reason="per SOP-DM-004"):
    return getattr(service.app.sites, f"{verb}_site")(ADMIN, site_id, reason, at)


def relocate(service, site_id, at=None, location="Tainan Science Park", **kwargs):
    return service.app.sites.relocate_site(
        ADMIN, site_id, location, "host changed", effective_at=at, **kwargs
    )


def command(service, verb, site_id, at=None, reason="per SOP-DM-004"):
    if verb == "relocate":
        return service.app.sites.relocate_site(ADMIN, site_id, "Tainan", reason, effective_at=at)
    return change(service, verb, site_id, at, reason)


def network(service, spoke_kind="MODULAR_UNIT", *, activate_spoke=True):
    """An ACTIVE control site (from day 1) and one spoke (ACTIVE from day 2 unless told not)."""
    register(service, CTRL)
    change(service, "activate", CTRL, day(1))
    register(service, SPOKE, spoke_kind, control=CTRL, at=day(1.5))
    if activate_spoke:
        change(service, "activate", SPOKE, day(2))


def snapshot(service) -> tuple[int, ...]:
    with service.read() as sql:
        return tuple(
            int(sql.scalar(f"SELECT COUNT(*) FROM {table}"))
            for table in ("stored_events", "ledger", "site_versions", "site_status_history")
        )


def refused(service, error: type[DomainError], code: str, call, *args, **kwargs) -> DomainError:
    events_before, everything_before = ledger_size(service), snapshot(service)
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    assert ledger_size(service) == events_before
    assert snapshot(service) == everything_before
    return caught.value


def status_of(service, site_id):
    with service.read() as sql:
        (view,) = find_sites(sql, service.app.head_position(), site_ids=[site_id])
    return view


# ------------------------------------------------------------------------- control-site links


@pytest.mark.parametrize("kind", SPOKE_KINDS)
@pytest.mark.parametrize("control", [None, "", "   "])
def test_a_decentralised_site_must_name_its_control_site(service, kind, control):
    register(service, CTRL)

    error = refused(
        service, BadInputError, "BAD_INPUT", register, service, SPOKE, kind, control=control
    )

    assert error.details["field"] == "controlSiteId"


def test_a_control_site_id_naming_no_site_is_not_found(service):
    register(service, CTRL)

    refused(
        service,
        NotFoundError,
        "NOT_FOUND",
        register,
        service,
        SPOKE,
        "MODULAR_UNIT",
        control="TW-CTRL-NOPE",
    )


@pytest.mark.parametrize("other_kind", ["TESTING_LABORATORY", "MEDICAL_INSTITUTION", "CELL_BANK"])
def test_a_control_site_id_naming_a_site_that_is_not_a_control_site_is_a_rule_violation(
    service, other_kind
):
    register(service, "TW-LAB", other_kind)

    refused(
        service,
        RuleViolationError,
        "RULE_VIOLATION",
        register,
        service,
        SPOKE,
        "POC_MOBILE",
        control="TW-LAB",
    )


def test_a_spoke_cannot_be_the_control_site_of_another_spoke(service):
    network(service)

    refused(
        service,
        RuleViolationError,
        "RULE_VIOLATION",
        register,
        service,
        "TW-MU-2",
        "MODULAR_UNIT",
        control=SPOKE,
    )


def test_a_terminated_control_site_takes_no_new_sites(service):
    register(service, CTRL)
    change(service, "terminate", CTRL, day(1))

    refused(
        service,
        RuleViolationError,
        "RULE_VIOLATION",
        register,
        service,
        SPOKE,
        "MODULAR_UNIT",
        control=CTRL,
        at=day(2),
    )


def test_a_control_site_answers_to_no_other_site(service):
    register(service, CTRL)

    error = refused(
        service, BadInputError, "BAD_INPUT", register, service, "TW-CTRL-2", control=CTRL
    )

    assert error.details["field"] == "controlSiteId"


@pytest.mark.parametrize("control_status", ["REGISTERED", "SUSPENDED", "TERMINATED"])
def test_a_spoke_is_activated_only_while_its_control_site_is_active(service, control_status):
    register(service, CTRL)
    register(service, SPOKE, "MODULAR_UNIT", control=CTRL, at=day(0.5))
    if control_status != "REGISTERED":
        change(service, "activate", CTRL, day(1))
        verb = {"SUSPENDED": "suspend", "TERMINATED": "terminate"}[control_status]
        change(service, verb, CTRL, day(2))
    assert status_of(service, CTRL).status == control_status

    refused(
        service, RuleViolationError, "RULE_VIOLATION", change, service, "activate", SPOKE, day(3)
    )
    assert status_of(service, SPOKE).status == "REGISTERED"


def test_a_spoke_activation_effective_before_its_control_site_was_active_is_refused(service):
    register(service, CTRL)
    register(service, SPOKE, "MODULAR_UNIT", control=CTRL, at=day(0.5))
    change(service, "activate", CTRL, day(1))

    refused(
        service,
        RuleViolationError,
        "RULE_VIOLATION",
        change,
        service,
        "activate",
        SPOKE,
        day(1) - timedelta(seconds=1),
    )
    change(service, "activate", SPOKE, day(1))
    assert status_of(service, SPOKE).status == "ACTIVE"


def test_a_spoke_is_not_reinstated_while_its_control_site_is_suspended(service):
    network(service)
    change(service, "suspend", SPOKE, day(3))
    change(service, "suspend", CTRL, day(4))

    refused(
        service, RuleViolationError, "RULE_VIOLATION", change, service, "reinstate", SPOKE, day(5)
    )

    change(service, "reinstate", CTRL, day(6))
    change(service, "reinstate", SPOKE, day(7))
    assert status_of(service, SPOKE).status == "ACTIVE"


def test_suspending_a_control_site_shows_on_every_spoke(service):
    network(service)
    register(service, "TW-POC-2", "POC_HOME", control=CTRL, at=day(1.6))  # stays REGISTERED
    register(service, "TW-LAB", "TESTING_LABORATORY", at=day(1.7))  # answers to no one
    change(service, "activate", "TW-LAB", day(1.8))
    register(service, "TW-CTRL-B", at=day(1.9))
    change(service, "activate", "TW-CTRL-B", day(2))
    register(service, "TW-MU-B", "MODULAR_UNIT", control="TW-CTRL-B", at=day(2))
    change(service, "activate", "TW-MU-B", day(2.1))
    before = ledger_size(service)

    result = change(service, "suspend", CTRL, day(3))

    assert ledger_size(service) == before + 1
    with service.read() as sql:
        views = {v.site_id: v for v in find_sites(sql, result.position)}
        spokes = find_sites(sql, result.position, control_site_id=CTRL)
    assert {s.site_id for s in spokes} == {SPOKE, "TW-POC-2"}
    assert all(s.control_site_status == "SUSPENDED" for s in spokes)
    assert (views[SPOKE].status, views[SPOKE].effective_status) == ("ACTIVE", "SUSPENDED")
    assert views["TW-POC-2"].effective_status == "REGISTERED"
    assert views[CTRL].status == views[CTRL].effective_status == "SUSPENDED"
    # Sites of another control site, and sites answering to none, are untouched.
    assert (views["TW-MU-B"].control_site_status, views["TW-MU-B"].effective_status) == (
        "ACTIVE",
        "ACTIVE",
    )
    assert (views["TW-LAB"].control_site_status, views["TW-LAB"].effective_status) == (
        None,
        "ACTIVE",
    )

    change(service, "reinstate", CTRL, day(4))
    assert status_of(service, SPOKE).control_site_status == "ACTIVE"
    assert status_of(service, SPOKE).effective_status == "ACTIVE"


def test_a_spoke_registered_under_a_suspended_control_site_shows_it_suspended(service):
    register(service, CTRL)
    change(service, "activate", CTRL, day(1))
    change(service, "suspend", CTRL, day(2))

    register(service, SPOKE, "MODULAR_UNIT", control=CTRL, at=day(3))

    assert status_of(service, SPOKE).control_site_status == "SUSPENDED"


def test_a_non_decentralised_site_may_name_a_control_site(service):
    register(service, CTRL)

    register(service, "TW-LAB", "TESTING_LABORATORY", control=CTRL)

    assert status_of(service, "TW-LAB").control_site_id == CTRL


# -------------------------------------------------------------------------------- lifecycle


@pytest.mark.parametrize(
    ("verb", "status"),
    [
        ("suspend", "REGISTERED"),
        ("suspend", "SUSPENDED"),
        ("activate", "ACTIVE"),
        ("activate", "SUSPENDED"),
        ("reinstate", "REGISTERED"),
        ("reinstate", "ACTIVE"),
    ],
)
def test_a_status_change_from_the_wrong_status_is_a_rule_violation(service, verb, status):
    register(service, CTRL)
    if status != "REGISTERED":
        change(service, "activate", CTRL, day(1))
    if status == "SUSPENDED":
        change(service, "suspend", CTRL, day(2))
    assert status_of(service, CTRL).status == status

    refused(service, RuleViolationError, "RULE_VIOLATION", change, service, verb, CTRL, day(3))


@pytest.mark.parametrize("verb", [*STATUS_VERBS, "relocate"])
def test_a_terminated_site_never_comes_back(service, verb):
    network(service)
    change(service, "suspend", SPOKE, day(3))
    change(service, "terminate", SPOKE, day(4))

    refused(service, SiteTerminatedError, "RULE_VIOLATION", command, service, verb, SPOKE, day(5))
    assert status_of(service, SPOKE).status == "TERMINATED"


@pytest.mark.parametrize("verb", [*STATUS_VERBS, "relocate"])
@pytest.mark.parametrize("reason", ["", "  ", "\n\t"])
def test_a_blank_reason_is_bad_input(service, verb, reason):
    network(service, "POC_MOBILE")
    change(service, "suspend", SPOKE, day(3))

    error = refused(
        service, BadInputError, "BAD_INPUT", command, service, verb, SPOKE, day(4), reason
    )

    assert error.details["field"] == "reason"


def test_a_second_registration_of_an_id_is_a_conflict(service):
    register(service, CTRL)

    refused(
        service,
        ConflictError,
        "CONFLICT",
        register,
        service,
        CTRL,
        name="Another control site",
        jurisdiction="EU",
        country="DE",
    )


def test_an_id_taken_by_a_spoke_is_a_conflict_for_any_kind(service):
    network(service)

    refused(service, ConflictError, "CONFLICT", register, service, SPOKE)


@pytest.mark.parametrize("verb", [*STATUS_VERBS, "relocate"])
def test_a_command_on_an_unknown_site_is_not_found(service, verb):
    network(service)

    error = refused(service, NotFoundError, "NOT_FOUND", command, service, verb, "TW-MU-404")

    assert error.details["id"] == "TW-MU-404"


# ------------------------------------------------------------------------------ registration


@pytest.mark.parametrize(
    ("jurisdiction", "country"),
    [("TW", "TWN"), ("UK", "UK"), ("EU", "EL"), ("EU", "XX"), ("TW", ""), ("US", "usa")],
)
def test_a_country_that_is_not_iso_alpha_2_is_bad_input(service, jurisdiction, country):
    error = refused(
        service,
        BadInputError,
        "BAD_INPUT",
        register,
        service,
        CTRL,
        jurisdiction=jurisdiction,
        country=country,
    )

    assert error.details["field"] == "country"


@pytest.mark.parametrize(
    ("jurisdiction", "country"), [("EU", "TW"), ("EU", "GB"), ("UK", "IE"), ("US", "TW")]
)
def test_a_country_outside_the_jurisdiction_is_bad_input(service, jurisdiction, country):
    refused(
        service,
        BadInputError,
        "BAD_INPUT",
        register,
        service,
        CTRL,
        jurisdiction=jurisdiction,
        country=country,
    )


def test_an_unknown_jurisdiction_is_bad_input(service):
    error = refused(
        service,
        BadInputError,
        "BAD_INPUT",
        register,
        service,
        CTRL,
        jurisdiction="JP",
        country="JP",
    )

    assert error.details["field"] == "jurisdiction"


@pytest.mark.parametrize(
    ("field", "value", "reported"),
    [
        ("name", "", "name"),
        ("name", "   ", "name"),
        ("supervising_authority", "", "supervisingAuthority"),
        ("supervising_authority", " \t", "supervisingAuthority"),
        ("site_id", "", "id"),
        ("site_id", "TW CTRL", "id"),
        ("site_id", "Site:TW-CTRL", "id"),
        ("site_id", "x" * 65, "id"),
    ],
)
def test_a_blank_or_malformed_registration_field_is_bad_input(service, field, value, reported):
    fields = {field: value}
    site_id = fields.pop("site_id", CTRL)

    error = refused(service, BadInputError, "BAD_INPUT", register, service, site_id, **fields)

    assert error.details["field"] == reported


@pytest.mark.parametrize("kind", ["FACTORY", "modular_unit", "", "CONTROL SITE"])
def test_an_unknown_kind_is_bad_input(service, kind):
    error = refused(service, BadInputError, "BAD_INPUT", register, service, CTRL, kind)

    assert error.details["field"] == "kind"


def test_a_registration_time_without_an_offset_is_bad_input(service):
    error = refused(
        service, BadInputError, "BAD_INPUT", register, service, CTRL, at=datetime(2025, 3, 3, 9, 0)
    )

    assert error.details["field"] == "registeredAt"


def test_a_registration_time_in_the_future_is_bad_input(service):
    refused(
        service,
        BadInputError,
        "BAD_INPUT",
        register,
        service,
        CTRL,
        at=utcnow() + timedelta(hours=1),
    )


# ---------------------------------------------------------------------------- effective times


@pytest.mark.parametrize("verb", [*STATUS_VERBS, "relocate"])
def test_an_effective_time_without_an_offset_is_bad_input(service, verb):
    network(service, "POC_MOBILE", activate_spoke=False)

    error = refused(
        service,
        BadInputError,
        "BAD_INPUT",
        command,
        service,
        verb,
        SPOKE,
        datetime(2025, 3, 10, 9, 0),
    )

    assert error.details["field"] == "effectiveAt"


@pytest.mark.parametrize("verb", [*STATUS_VERBS, "relocate"])
def test_an_effective_time_in_the_future_is_bad_input(service, verb):
    network(service, "POC_MOBILE", activate_spoke=False)

    error = refused(
        service,
        BadInputError,
        "BAD_INPUT",
        command,
        service,
        verb,
        SPOKE,
        utcnow() + timedelta(minutes=10),
    )

    assert error.details["field"] == "effectiveAt"


def test_an_effective_time_within_the_clock_skew_tolerance_is_accepted(service):
    register(service, CTRL)

    change(service, "activate", CTRL, utcnow() + timedelta(minutes=2))

    assert status_of(service, CTRL).status == "ACTIVE"


def test_a_change_without_an_effective_time_takes_effect_now(service):
    register(service, CTRL)
    before = utcnow()

    change(service, "activate", CTRL)

    (_, activated) = status_of(service, CTRL).history
    assert before <= activated.at <= utcnow()


@pytest.mark.parametrize(
    ("verb", "status", "last_change"),
    [
        ("activate", "REGISTERED", day(1.5)),  # the spoke's registration
        ("suspend", "ACTIVE", day(2)),
        ("terminate", "ACTIVE", day(2)),
        ("reinstate", "SUSPENDED", day(3)),
        ("terminate", "SUSPENDED", day(3)),
        ("relocate", "SUSPENDED", day(3)),
    ],
)
def test_an_effective_time_before_the_previous_status_change_is_a_rule_violation(
    service, verb, status, last_change
):
    network(service, activate_spoke=status != "REGISTERED")
    if status == "SUSPENDED":
        change(service, "suspend", SPOKE, day(3))
    assert status_of(service, SPOKE).status == status

    refused(
        service,
        RuleViolationError,
        "RULE_VIOLATION",
        command,
        service,
        verb,
        SPOKE,
        last_change - timedelta(seconds=1),
    )


# ------------------------------------------------------------------------------- relocation


@pytest.mark.parametrize("kind", ["MODULAR_UNIT", "POC_MOBILE"])
def test_an_active_unit_is_not_relocated(service, kind):
    network(service, kind)

    refused(service, RuleViolationError, "RULE_VIOLATION", relocate, service, SPOKE, day(3))


@pytest.mark.parametrize(
    "kind", ["CONTROL_SITE", "POC_HEALTHCARE_ESTABLISHMENT", "POC_HOME", "CELL_BANK"]
)
def test_only_modular_and_mobile_units_are_relocated(service, kind):
    register(service, CTRL)
    change(service, "activate", CTRL, day(1))
    site_id = CTRL if kind == "CONTROL_SITE" else SPOKE
    if kind != "CONTROL_SITE":
        register(service, SPOKE, kind, control=CTRL, at=day(1.5))
    # Not ACTIVE (a spoke stays REGISTERED, the control site is suspended): only the kind
    # stands in the way.
    if kind == "CONTROL_SITE":
        change(service, "suspend", CTRL, day(2))

    refused(service, RuleViolationError, "RULE_VIOLATION", relocate, service, site_id, day(3))


def test_moving_a_unit_to_another_country_needs_the_new_supervising_authority(service):
    register(service, "NL-CTRL", jurisdiction="EU", country="NL", supervising_authority="IGJ")
    register(
        service,
        "NL-MOBILE",
        "POC_MOBILE",
        control="NL-CTRL",
        jurisdiction="EU",
        country="NL",
        supervising_authority="IGJ",
    )

    error = refused(
        service,
        BadInputError,
        "BAD_INPUT",
        relocate,
        service,
        "NL-MOBILE",
        day(1),
        location="Charité, Berlin",
        country="DE",
    )
    assert error.details["field"] == "supervisingAuthority"
    refused(
        service,
        BadInputError,
        "BAD_INPUT",
        relocate,
        service,
        "NL-MOBILE",
        day(1),
        location="Charité, Berlin",
        country="DE",
        supervising_authority="   ",
    )

    relocate(
        service,
        "NL-MOBILE",
        day(1),
        location="Charité, Berlin",
        country="DE",
        supervising_authority="LAGeSo Berlin",
    )
    moved = status_of(service, "NL-MOBILE")
    assert (moved.location, moved.country, moved.supervising_authority) == (
        "Charité, Berlin",
        "DE",
        "LAGeSo Berlin",
    )
    assert moved.status == "REGISTERED"


def test_a_unit_is_not_moved_out_of_its_jurisdiction(service):
    register(service, "NL-CTRL", jurisdiction="EU", country="NL", supervising_authority="IGJ")
    register(
        service,
        "NL-MOBILE",
        "POC_MOBILE",
        control="NL-CTRL",
        jurisdiction="EU",
        country="NL",
        supervising_authority="IGJ",
    )

    refused(
        service,
        BadInputError,
        "BAD_INPUT",
        relocate,
        service,
        "NL-MOBILE",
        day(1),
        location="London",
        country="GB",
        supervising_authority="MHRA",
    )


def test_a_relocation_needs_a_location(service):
    network(service, activate_spoke=False)

    error = refused(
        service, BadInputError, "BAD_INPUT", relocate, service, SPOKE, day(3), location="  "
    )

    assert error.details["field"] == "location"


def test_a_relocation_within_the_country_keeps_the_supervising_authority(service):
    network(service)
    change(service, "suspend", SPOKE, day(3))

    relocate(service, SPOKE, day(4), location="Tainan Science Park")

    moved = status_of(service, SPOKE)
    assert (moved.location, moved.country, moved.supervising_authority, moved.status) == (
        "Tainan Science Park",
        "TW",
        "TFDA",
        "SUSPENDED",
    )


# ------------------------------------------------------------------------------ happy paths


def test_command_results_name_increasing_positions_that_match_the_ledger(service):
    results = [
        register(service, CTRL),
        change(service, "activate", CTRL, day(1)),
        register(service, SPOKE, "POC_MOBILE", control=CTRL, at=day(1.5)),
        change(service, "activate", SPOKE, day(2)),
        change(service, "suspend", SPOKE, day(3)),
        relocate(service, SPOKE, day(4)),
        change(service, "reinstate", SPOKE, day(5)),
        change(service, "terminate", SPOKE, day(6)),
    ]

    positions = [r.position for r in results]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert ledger_size(service) == len(results)
    assert service.app.head_position() == positions[-1]
    assert [(r.aggregate_id, r.version) for r in results] == [
        ("Site:TW-CTRL", 1),
        ("Site:TW-CTRL", 2),
        ("Site:TW-MU-1", 1),
        ("Site:TW-MU-1", 2),
        ("Site:TW-MU-1", 3),
        ("Site:TW-MU-1", 4),
        ("Site:TW-MU-1", 5),
        ("Site:TW-MU-1", 6),
    ]
    with service.read() as sql:
        rows = sql.all(
            "SELECT e.notification_id, e.originator_id, e.originator_version, l.position"
            " FROM stored_events e JOIN ledger l ON l.position = e.notification_id"
            " ORDER BY e.notification_id"
        )
    assert [
        (int(r["notification_id"]), r["originator_id"], int(r["originator_version"])) for r in rows
    ] == [(r.position, r.aggregate_id, r.version) for r in results]


def test_a_refused_command_leaves_no_gap_in_the_positions(service):
    first = register(service, CTRL)
    with pytest.raises(ConflictError):
        register(service, CTRL)
    with pytest.raises(RuleViolationError):
        change(service, "suspend", CTRL, day(1))

    second = change(service, "activate", CTRL, day(1))

    assert second.position == first.position + 1


def test_the_registration_is_recorded_with_every_field(service):
    # An EU spoke answers to an EU central site (a control site of its own regulatory area).
    eu_central = "DE-CTRL"
    register(service, eu_central, jurisdiction="EU", country="DE", supervising_authority="PEI")
    result = register(
        service,
        "DE-MU-BERLIN",
        "MODULAR_UNIT",
        control=eu_central,
        jurisdiction="EU",
        country=" DE ",
        name="  Berlin Modular Unit ",
        supervising_authority="LAGeSo Berlin",
        licence_number=" DE-BE-HE-2025-114 ",
        location="   ",
        at=day(1),
    )

    with service.read() as sql:
        (view,) = find_sites(sql, result.position, site_ids=["DE-MU-BERLIN"])
    assert (view.name, view.kind, view.jurisdiction, view.country) == (
        "Berlin Modular Unit",
        "MODULAR_UNIT",
        "EU",
        "DE",
    )
    assert (view.supervising_authority, view.licence_number, view.location) == (
        "LAGeSo Berlin",
        "DE-BE-HE-2025-114",
        None,
    )
    assert (view.control_site_id, view.control_site_status, view.status) == (
        eu_central,
        "REGISTERED",
        "REGISTERED",
    )
    assert view.registered_at == day(1)
    (registered,) = view.history
    assert (registered.status, registered.at, registered.actor, registered.actor_role) == (
        "REGISTERED",
        day(1),
        ADMIN.id,
        ADMIN.role,
    )
    assert registered.position == result.position
