"""Where starting material and material lots are, leg by leg (issue 18, item 2).

A donation (apheresis, marrow...) is shipped from the collection site to the manufacturing site
and received there; a material lot is transferred between sites and received. Each leg names its
courier, and its receipt the condition found (GDP). Between dispatch and receipt the item is in
transit, at no site. What is made from a shipped donation is made where the donation was
received; a lot is used only at the site where it is (``require_at``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime

from domain.shared import RuleViolationError


@dataclass(frozen=True)
class Stay:
    """From ``since``, the item was at ``site_id`` (None: in transit on leg ``leg_id``)."""

    site_id: str | None
    since: datetime
    leg_id: str | None = None

    @property
    def place(self) -> str:
        """Where the stay was, in words: ``at site 'X'`` or ``in transit on leg 'L'``."""
        if self.site_id is None:
            return f"in transit on leg {self.leg_id!r}"
        return f"at site {self.site_id!r}"


@dataclass
class Leg:
    """One leg in a courier's custody: dispatched, maybe received."""

    leg_id: str
    from_site_id: str
    to_site_id: str
    courier: str
    dispatched_at: datetime
    received_at: datetime | None = None
    condition_acceptable: bool | None = None


class Whereabouts:
    """The stays of one item in business-time order (a fact entered late, such as a back-filled
    step at another site, goes where its time puts it), and the legs that moved it."""

    def __init__(self, site_id: str, since: datetime) -> None:
        self.stays: list[Stay] = [Stay(site_id, since)]
        self.legs: list[Leg] = []

    def at(self, when: datetime) -> Stay | None:
        found = None
        for stay in self.stays:
            if stay.since <= when:
                found = stay
        return found

    @property
    def current(self) -> Stay:
        return self.stays[-1]

    @property
    def open_leg(self) -> Leg | None:
        leg = self.legs[-1] if self.legs else None
        return leg if leg is not None and leg.received_at is None else None

    def leg(self, leg_id: str) -> Leg | None:
        return next((g for g in self.legs if g.leg_id == leg_id), None)

    def _stay(self, stay: Stay) -> None:
        # After any stay of the same time: facts of one moment keep the order they came in.
        bisect.insort_right(self.stays, stay, key=lambda s: s.since)

    def dispatched(self, leg: Leg) -> None:
        self.legs.append(leg)
        self._stay(Stay(None, leg.dispatched_at, leg.leg_id))

    def moved(self, site_id: str | None, since: datetime, leg_id: str | None = None) -> None:
        """From ``since`` the item is at ``site_id`` (None: in transit on ``leg_id``), a move
        without a leg of its own (a finished product's shipment, a step at another site); a
        stay like the one in force then changes nothing."""
        here = self.at(since)
        if here is None or (here.site_id, here.leg_id) != (site_id, leg_id):
            self._stay(Stay(site_id, since, leg_id))

    def left(self, site_id: str, after: datetime, before: datetime) -> Stay | None:
        """The first stay away from ``site_id`` that began after ``after`` and before
        ``before`` (strictly: leaving at ``before`` itself is not leaving before it)."""
        return next(
            (s for s in self.stays if after < s.since < before and s.site_id != site_id), None
        )

    def received(self, leg_id: str, received_at: datetime, acceptable: bool) -> None:
        leg = self.leg(leg_id)
        assert leg is not None
        leg.received_at = received_at
        leg.condition_acceptable = acceptable
        self._stay(Stay(leg.to_site_id, received_at))

    # ------------------------------------------------------------------------------- rules

    def require_may_dispatch(
        self, what: str, leg_id: str, from_site_id: str, dispatched_at: datetime
    ) -> None:
        if self.leg(leg_id) is not None:
            raise RuleViolationError(f"{what} was already dispatched on leg {leg_id!r}")
        here = self.current
        if here.site_id is None:
            raise RuleViolationError(
                f"{what} is in transit on leg {here.leg_id!r}; it is received before it is "
                "dispatched again"
            )
        if here.site_id != from_site_id:
            raise RuleViolationError(
                f"{what} is at site {here.site_id!r}, not {from_site_id!r}; it is dispatched "
                "from where it is"
            )
        if dispatched_at < here.since:
            raise RuleViolationError(
                f"dispatchedAt {dispatched_at.isoformat()} precedes the arrival of {what} at "
                f"{here.site_id!r} ({here.since.isoformat()})"
            )

    def require_open_leg(self, what: str, leg_id: str, at: datetime, field: str) -> Leg:
        leg = self.leg(leg_id)
        if leg is None:
            raise RuleViolationError(f"{what} was never dispatched on leg {leg_id!r}")
        if leg.received_at is not None:
            raise RuleViolationError(
                f"leg {leg_id!r} of {what} was already received at {leg.received_at.isoformat()}"
            )
        if at < leg.dispatched_at:
            raise RuleViolationError(
                f"{field} {at.isoformat()} precedes the dispatch of leg {leg_id!r} of {what} "
                f"({leg.dispatched_at.isoformat()})"
            )
        return leg

    def require_at(
        self,
        what: str,
        site_id: str,
        when: datetime,
        act: str,
        until: datetime | None = None,
        **details: object,
    ) -> None:
        """``what`` was at ``site_id`` at ``when`` (received there, not in transit) and, given
        ``until``, did not leave it before then; a refusal carries ``details``."""
        stay = self.at(when)
        if stay is None or stay.site_id != site_id:
            where = "not yet there" if stay is None else stay.place
            raise RuleViolationError(
                f"{what} was {where} at {when.isoformat()}; {act} at site {site_id!r} needs it "
                "there (received)",
                **details,
            )
        away = None if until is None else self.left(site_id, when, until)
        if away is not None and until is not None:
            raise RuleViolationError(
                f"{what} was {away.place} from {away.since.isoformat()}, before "
                f"{until.isoformat()}; {act} at site {site_id!r} until then needs it there",
                **details,
            )
