"""Inputs of custody before the finished product (issue 18, item 2): starting-material
shipments and material-lot transfers. Field names are the ledger command's parameters."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry


@strawberry.input(
    description="starting material (a donation) handed to a courier at the site where it is, "
    "for the manufacturing site, with the range it must be kept in on the way"
)
class ShipDonationInput:
    donation_id: strawberry.ID
    shipment_id: strawberry.ID = strawberry.field(
        description="the leg's identifier, unique among the donation's legs"
    )
    to_site_id: strawberry.ID
    courier: str
    dispatched_at: datetime
    min_celsius: float = strawberry.field(
        description="the lowest temperature allowed on the way (the shipper's instructions)"
    )
    max_celsius: float = strawberry.field(description="the highest temperature allowed")


@strawberry.input(
    description="a temperature read on a starting-material leg before its receipt; one outside "
    "the leg's range puts every batch made from the donation on hold"
)
class DonationTemperatureInput:
    donation_id: strawberry.ID
    shipment_id: strawberry.ID
    observed_at: datetime
    temperature_celsius: float
    duration_minutes: int


@strawberry.input(description="the receipt of a starting-material leg, with the condition found")
class ReceiveDonationShipmentInput:
    donation_id: strawberry.ID
    shipment_id: strawberry.ID
    received_at: datetime
    condition_acceptable: bool


@strawberry.input(description="a material lot handed to a courier for another site")
class TransferMaterialLotInput:
    lot_id: strawberry.ID
    transfer_id: strawberry.ID
    from_site_id: strawberry.ID
    to_site_id: strawberry.ID
    courier: str
    dispatched_at: datetime


@strawberry.input(description="the receipt of a material-lot transfer, with the condition found")
class ReceiveMaterialLotTransferInput:
    lot_id: strawberry.ID
    transfer_id: strawberry.ID
    received_at: datetime
    condition_acceptable: bool


@strawberry.enum(description="who holds a shipment on a leg")
class CustodianKind(Enum):
    COURIER = "COURIER"
    SITE = "SITE"


@strawberry.input(
    description="a hand-over on a shipment's way: the custodian taking it (a courier, or a "
    "site's staff at a depot) and when"
)
class RecordHandOverInput:
    shipment_id: strawberry.ID
    custodian: str
    custodian_kind: CustodianKind
    handed_over_at: datetime
    custodian_site_id: strawberry.ID | None = strawberry.field(
        default=None, description="the site, for a SITE custodian (and only for one)"
    )


@strawberry.input(
    description="a batch, or one of its containers, kept in a storage location (a cryostorage "
    "tank and position) at the site where it is, from a time (and until one, when known)"
)
class RecordStorageInput:
    storage_id: strawberry.ID
    batch_id: strawberry.ID
    site_id: strawberry.ID
    location: str
    stored_from: datetime
    container_id: strawberry.ID | None = None
    stored_until: datetime | None = None


@strawberry.input(description="the end of a storage period")
class EndStorageInput:
    storage_id: strawberry.ID
    stored_until: datetime


@strawberry.enum(description="the quality unit's decision on a product received back")
class ReturnOutcome(Enum):
    RELEASE_FOR_REUSE = "RELEASE_FOR_REUSE"
    DESTROY = "DESTROY"


@strawberry.input(description="the quality unit's assessment of a product received back")
class AssessReturnInput:
    batch_id: strawberry.ID
    outcome: ReturnOutcome
    reason: str
    assessed_at: datetime
