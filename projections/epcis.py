"""GS1 EPCIS 2.0 events from ledger events, in the Core Business Vocabulary (CBV 2.0).

Each ledger event that moves or changes a physical thing becomes one EPCIS event whose eventID
names its ledger position (``urn:regentrace:event:<position>``), so an auditor can go from an
exported event to the ledger entry behind it and its hash. The mapping, and why each CBV term was
chosen, is tabled in docs/epcis.md. In short:

    Donation.Recorded             ObjectEvent ADD     commissioning    active
    MaterialLot.Received          ObjectEvent ADD     receiving        non_sellable_other
    MaterialLot.Released/Rejected ObjectEvent OBSERVE inspecting       conformant/non_conformant
    CellBank.Banked               Transformation      commissioning    active (in: the donation,
                                  for a master bank; out: the bank, outputQuantityList its vials)
    CellBank.VialsTaken           Transformation      (none in CBV)    active / in_progress (in:
                                  the bank, inputQuantityList the vials; out: the working bank or
                                  the batch the vial was taken for)
    Batch.Started                 Transformation      commissioning    in_progress (in: donation)
    Batch.Pooled                  Transformation      (none in CBV)    in_progress (in: the
                                  donations pooled with the first, out: the batch)
    Batch.StepRecorded            Transformation      (none in CBV)    in_progress (in: lots)
    Batch.QcResultRecorded        ObjectEvent OBSERVE inspecting       conformant/non_conformant
    Batch.Released                ObjectEvent OBSERVE (none in CBV)    active
    Batch.Rejected                ObjectEvent OBSERVE (none in CBV)    non_sellable_other
    Batch.Destroyed               ObjectEvent DELETE  destroying       destroyed
    Batch.ContainersDestroyed     ObjectEvent DELETE  destroying       destroyed (the containers)
    Batch.Recalled                ObjectEvent OBSERVE holding          recalled
    Recall.ActionRecorded         ObjectEvent OBSERVE shipping         returned (RETURNED)
                                  ObjectEvent OBSERVE holding          recalled (QUARANTINED)
                                  (the unit's EPC: the container's, or the batch's; DESTROYED
                                  is exported by the batch's own record of the destruction)
    Batch.Administered            ObjectEvent OBSERVE dispensing       dispensed
    Batch.ContainerAdministered   ObjectEvent OBSERVE dispensing       dispensed (the container)
    Batch.ContainersFilled        Transformation      (none in CBV)    in_progress (in: batch,
                                  out: its containers; inputQuantityList in MLT)
    Shipment.Dispatched           ObjectEvent OBSERVE shipping         in_transit
    Shipment.Temperature...       ObjectEvent OBSERVE sensor_reporting in_transit (+ sensor data)
    Shipment.Received             ObjectEvent OBSERVE receiving        in_progress / damaged
    Shipment.HandedOver           ObjectEvent OBSERVE transporting     in_transit (+ custodian)
    Donation.Shipped,             ObjectEvent OBSERVE shipping         in_transit (the donation
      MaterialLot.Transferred                                          or lot, source/destination)
    Donation.TemperatureRecorded  ObjectEvent OBSERVE sensor_reporting in_transit (alarm only
                                                                       outside the leg's range)
    Donation.ShipmentReceived,    ObjectEvent OBSERVE receiving        in_progress / damaged
      MaterialLot.TransferReceived
    Storage.Started / Ended       ObjectEvent OBSERVE storing / departing (storage location)
    Shipment.Dispatched (return)  ObjectEvent OBSERVE shipping         returned
    Batch.ReturnQuarantined       ObjectEvent OBSERVE holding          non_sellable_other
    Batch.ReturnAssessed          ObjectEvent OBSERVE inspecting       conformant (reuse) /
                                                                       non_conformant (destroy)

Every TransformationEvent of a batch carries the batch's URI as its transformationID: EPCIS reads
all events sharing one transformationID as one transformation, so the donation and every lot used
in any step are inputs of the one output, the batch. What CBV has no word for (operator, QC method,
the QP's signature) travels as ``regentrace:`` extension properties.

A cell bank is one transformation too, named by the bank's URI: its laying down (from the
donation, for a master bank) and the vial taken from its master bank (for a working bank). A vial
taken for a batch is an input of the batch's transformation, so EPCIS lineage runs donation ->
master bank -> working bank -> batch, as recallTrace's does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from domain.isbt128 import chain_of_identity_for, normalise_donation_id
from domain.shared import BadInputError
from projections.sql import iso_utc

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
VOCABULARY = "urn:regentrace:vocab:"
PREFIX = "regentrace:"

Event = dict[str, Any]


@dataclass(frozen=True)
class Fact:
    """A ledger event as the export reads it: its place, its ledger time and its payload."""

    position: int
    aggregate_type: str
    key: str
    event_type: str
    recorded_at: datetime
    payload: dict[str, Any]

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromisoformat(self.payload["occurred_at"])


@dataclass(frozen=True)
class Shipment:
    """What a shipment's later events do not repeat: where it goes and what it carries."""

    from_site_id: str
    to_site_id: str
    batch_ids: tuple[str, ...]
    containers: tuple[str, ...] = ()  # batch/container, of batches filled into containers


ShipmentOf = Callable[[str], Shipment | None]


# ------------------------------------------------------------------------------- identifiers


def urn(kind: str, key: str) -> str:
    """A private URN; the identifier is percent-encoded so any caller-chosen id is a valid URI."""
    return f"urn:regentrace:{kind}:{quote(key, safe='')}"


def donation_uri(donation_id: str) -> str:
    """ISBT 128 DINs get their own namespace (the 13 characters, no check character); local
    donation identifiers another, so the two can never collide."""
    try:
        din = normalise_donation_id(donation_id)[1]
    except BadInputError:
        din = None
    return urn("din", din.din) if din else urn("donation", donation_id)


def batch_uri(batch_id: str) -> str:
    return urn("batch", batch_id)


def container_uri(node: str) -> str:
    """A bag or vial: ``batch/container`` (domain.batch.container_node)."""
    return urn("container", node)


def cell_bank_uri(bank_id: str) -> str:
    """A master or working cell bank; its vials are counted against it (quantity lists)."""
    return urn("cell-bank", bank_id)


def lot_uri(lot_id: str) -> str:
    return urn("lot", lot_id)


def site_uri(site_id: str) -> str:
    return urn("site", site_id)


def event_id(position: int) -> str:
    return urn("event", str(position))


# ------------------------------------------------------------------------------------ events


def _time(value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return iso_utc(moment)


def _base(fact: Fact, kind: str, at: str | datetime) -> Event:
    return {
        "type": kind,
        "eventID": event_id(fact.position),
        "eventTime": _time(at),
        "eventTimeZoneOffset": "+00:00",
        "recordTime": iso_utc(fact.recorded_at),
    }


def _object(fact: Fact, at: str | datetime, epcs: list[str], action: str = "OBSERVE") -> Event:
    return _base(fact, "ObjectEvent", at) | {"epcList": epcs, "action": action}


def _at(site_id: str) -> Event:
    return {"readPoint": {"id": site_uri(site_id)}, "bizLocation": {"id": site_uri(site_id)}}


def _ends(site_id: str, field: str) -> list[dict[str, str]]:
    """A site is both the place and the licensed party holding the goods there."""
    return [
        {"type": "owning_party", field: site_uri(site_id)},
        {"type": "location", field: site_uri(site_id)},
    ]


def _extensions(**values: Any) -> Event:
    return {PREFIX + name: value for name, value in values.items() if value is not None}


def _donation(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["acquired_at"], [donation_uri(fact.key)], "ADD")
        | {"bizStep": "commissioning", "disposition": "active"}
        | _at(p["site_id"])
        | {
            "ilmd": _extensions(
                material=p["material"],
                donationType=p["donation_type"],
                donorCode=p["donor_code"],
                chainOfIdentity=chain_of_identity_for(fact.key),
            )
        }
    )


def _lot_received(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["received_at"], [lot_uri(fact.key)], "ADD")
        | {"bizStep": "receiving", "disposition": "non_sellable_other"}
        | _at(p["site_id"])
        | {
            "ilmd": _extensions(
                material=p["material"], supplier=p["supplier"], expiresAt=p["expires_at"]
            )
        }
    )


def _lot_decided(fact: Fact, p: dict[str, Any]) -> Event:
    passed = fact.event_type.endswith("Released")
    return (
        _object(fact, p["occurred_at"], [lot_uri(fact.key)])
        | {"bizStep": "inspecting", "disposition": "conformant" if passed else "non_conformant"}
        | _extensions(reason=p["reason"])
    )


def _transformation(fact: Fact, at: str, inputs: list[str], site_id: str) -> Event:
    event = _base(fact, "TransformationEvent", at) | {
        "outputEPCList": [batch_uri(fact.key)],
        "transformationID": batch_uri(fact.key),
    }
    if inputs:
        event["inputEPCList"] = inputs
    return event | {"disposition": "in_progress"} | _at(site_id)


def _started(fact: Fact, p: dict[str, Any]) -> Event:
    inputs = [donation_uri(p["donation_id"])]
    return (
        _transformation(fact, p["started_at"], inputs, p["site_id"])
        | {"bizStep": "commissioning"}
        | {
            "ilmd": _extensions(
                product=p["product"],
                controlSite=site_uri(p["control_site_id"]),
                chainOfIdentity=chain_of_identity_for(p["donation_id"]),
            )
        }
    )


def _pooled(fact: Fact, p: dict[str, Any]) -> Event:
    """Donations pooled with the first: inputs of the batch's one transformation (its
    transformationID), so EPCIS lineage reaches every donor, as recallTrace does."""
    inputs = [donation_uri(d) for d in p["donation_ids"]]
    return _transformation(fact, p["pooled_at"], inputs, p["site_id"])


def _banked(fact: Fact, p: dict[str, Any]) -> Event:
    """A cell bank laid down: a master bank from its donation, a working bank (whose input, the
    master bank's vial, is the master bank's VialsTaken under the same transformationID)."""
    bank, parent = cell_bank_uri(fact.key), p["parent_bank_id"]
    event = _base(fact, "TransformationEvent", p["banked_at"])
    if parent is None:
        event["inputEPCList"] = [donation_uri(p["donation_id"])]
    return (
        event
        | {
            "outputEPCList": [bank],
            "outputQuantityList": [{"epcClass": bank, "quantity": p["vials"]}],
            "transformationID": bank,
            "bizStep": "commissioning",
            "disposition": "active",
        }
        | _at(p["site_id"])
        | {
            "ilmd": _extensions(
                bankKind=p["kind"],
                passage=p["passage"],
                vials=p["vials"],
                parentBank=cell_bank_uri(parent) if parent else None,
                chainOfIdentity=chain_of_identity_for(p["donation_id"]),
            )
        }
    )


def _vials_taken(fact: Fact, p: dict[str, Any]) -> Event:
    """Vials taken from a bank: inputs (counted) of the working bank or batch made from them,
    under that one's transformationID."""
    bank = cell_bank_uri(fact.key)
    made = batch_uri(p["for_id"]) if p["for_kind"] == "BATCH" else cell_bank_uri(p["for_id"])
    return _base(fact, "TransformationEvent", p["taken_at"]) | {
        "inputEPCList": [bank],
        "inputQuantityList": [{"epcClass": bank, "quantity": p["vials"]}],
        "outputEPCList": [made],
        "transformationID": made,
        "disposition": "in_progress" if p["for_kind"] == "BATCH" else "active",
    }


def _step(fact: Fact, p: dict[str, Any]) -> Event:
    inputs = [lot_uri(lot) for lot in dict.fromkeys(p["material_lots"])]
    return _transformation(fact, p["completed_at"], inputs, p["site_id"]) | _extensions(
        step=p["step"],
        startedAt=_time(p["started_at"]),
        operator=p["operator"],
        equipment=p["equipment"],
    )


def _qc(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["tested_at"], [batch_uri(fact.key)])
        | {
            "bizStep": "inspecting",
            "disposition": "conformant" if p["passed"] else "non_conformant",
        }
        | _at(p["laboratory_site_id"])
        | _extensions(
            test=p["test"], method=p["method"], specification=p["specification"], result=p["result"]
        )
    )


def _released(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["released_at"], [batch_uri(fact.key)])
        | {"disposition": "active"}
        | _extensions(
            qualifiedPerson=p["qualified_person"], signatureMeaning=p["signature_meaning"]
        )
    )


def _rejected(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["occurred_at"], [batch_uri(fact.key)])
        | {"disposition": "non_sellable_other"}
        | _extensions(decision="REJECTED", reason=p["reason"])
    )


# The containers a batch's destruction destroyed with it (those neither given nor destroyed
# before): not in the ledger event, the document reads them from the batch's earlier events.
CONTAINERS_LEFT = "regentrace_containers_left"


def _destroyed(fact: Fact, p: dict[str, Any]) -> Event:
    """The batch ceases to exist, with every container of it still left (its EPC deleted too,
    once: a container destroyed or given before is not in it)."""
    left = [container_uri(f"{fact.key}/{c}") for c in p.get(CONTAINERS_LEFT, ())]
    return (
        _object(fact, p["occurred_at"], [batch_uri(fact.key), *left], "DELETE")
        | {"bizStep": "destroying", "disposition": "destroyed"}
        | _at(p["site_id"])
        | _extensions(reason=p["reason"])
    )


def _containers_destroyed(fact: Fact, p: dict[str, Any]) -> Event:
    """Some of a batch's containers destroyed where they are (destroyBatchContainers, or a
    recall's DESTROYED action on a container): their EPCs, those the fill gave them."""
    epcs = [container_uri(f"{fact.key}/{c}") for c in p["container_ids"]]
    return (
        _object(fact, p["occurred_at"], epcs, "DELETE")
        | {"bizStep": "destroying", "disposition": "destroyed"}
        | _at(p["site_id"])
        | _extensions(reason=p["reason"])
    )


def _recalled(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["occurred_at"], [batch_uri(fact.key)])
        | {"bizStep": "holding", "disposition": "recalled"}
        | _extensions(recall=urn("recall", p["recall_id"]))
    )


# What a recall action does to the unit, in CBV terms. A unit already given to a patient is not
# moved or changed by the recall. A destruction is exported once, by the batch's own record of
# it, which the ledger holds for every DESTROYED action: the batch's Batch.Destroyed (a whole
# batch, or its last container), or Batch.ContainersDestroyed (some containers), recorded with
# the action or before it (a container destroyed after the recall reached it). The action only
# accounts for the unit, so it adds no second DELETE of the same EPC.
RECALL_ACTIONS = {
    "RETURNED": {"bizStep": "shipping", "disposition": "returned"},
    "QUARANTINED": {"bizStep": "holding", "disposition": "recalled"},
}


def _recall_action(fact: Fact, p: dict[str, Any]) -> Event | None:
    """A recall's action on one unit (Recall.ActionRecorded): a return sent back, a quarantine.
    An action naming a container names that container's EPC (the one the fill gave it), an
    action on a whole batch the batch's."""
    step = RECALL_ACTIONS.get(p["kind"])
    if step is None:
        return None
    container = p.get("container_id")
    shipment = p.get("shipment_id")
    epc = container_uri(f"{p['batch_id']}/{container}") if container else batch_uri(p["batch_id"])
    return (
        _object(fact, p["occurred_at"], [epc])
        | step
        | (_at(p["site_id"]) if p.get("site_id") else {})
        | _extensions(
            recall=urn("recall", fact.key),
            recallAction=p["action_id"],
            container=container,
            shipment=urn("shipment", shipment) if shipment else None,
            note=p.get("note"),
        )
    )


def _filled(fact: Fact, p: dict[str, Any]) -> Event:
    """The batch split into containers: a transformation of its own (in: the batch, a quantity
    of it in millilitres; out: each container), so EPCIS lineage reaches each container."""
    nodes = [f"{fact.key}/{c['container_id']}" for c in p["containers"]]
    volume = sum(float(c["volume_ml"]) for c in p["containers"])
    return (
        _base(fact, "TransformationEvent", p["filled_at"])
        | {
            "inputEPCList": [batch_uri(fact.key)],
            "inputQuantityList": [
                {"epcClass": batch_uri(fact.key), "quantity": volume, "uom": "MLT"}
            ],
            "outputEPCList": [container_uri(n) for n in nodes],
            "transformationID": urn("fill", fact.key),
            "disposition": "in_progress",
        }
        | _at(p["site_id"])
        | {
            "ilmd": _extensions(
                containers=[
                    {
                        "id": container_uri(n),
                        "kind": c["kind"],
                        "volumeMl": c["volume_ml"],
                        "dose": c["dose"],
                        "doseUnit": c["dose_unit"],
                    }
                    for n, c in zip(nodes, p["containers"], strict=True)
                ]
            )
        }
    )


def _quantities(containers: list[str] | tuple[str, ...]) -> Event:
    """The containers of each batch a movement carries, counted (EPCIS quantityList)."""
    counted: dict[str, int] = {}
    for node in containers:
        batch_id = node.rsplit("/", 1)[0]
        counted[batch_id] = counted.get(batch_id, 0) + 1
    if not counted:
        return {}
    return {"quantityList": [{"epcClass": batch_uri(b), "quantity": n} for b, n in counted.items()]}


def _given(fact: Fact, p: dict[str, Any]) -> list[str]:
    container = p.get("container_id")
    batch = [batch_uri(fact.key)] if fact.event_type == "Batch.Administered" else []
    return batch + ([container_uri(f"{fact.key}/{container}")] if container else [])


def _administered(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["administered_at"], _given(fact, p))
        | {"bizStep": "dispensing", "disposition": "dispensed"}
        | _at(p["site_id"])
        | _extensions(identityVerified=p["identity_verified"])
    )


def _dispatched(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["dispatched_at"], _carried(p["batch_ids"], p.get("containers", ())))
        | _quantities(p.get("containers", ()))
        # A controlled return ships with CBV's `returned` disposition (issue 18, item 2).
        | {"bizStep": "shipping", "disposition": "returned" if p.get("is_return") else "in_transit"}
        | {"readPoint": {"id": site_uri(p["from_site_id"])}}
        | {"sourceList": _ends(p["from_site_id"], "source")}
        | {"destinationList": _ends(p["to_site_id"], "destination")}
        | _extensions(
            shipment=urn("shipment", fact.key),
            courier=p["courier"],
            isReturn=True if p.get("is_return") else None,
        )
    )


def _carried(batch_ids: list[str] | tuple[str, ...], containers: Any) -> list[str]:
    return [batch_uri(b) for b in batch_ids] + [container_uri(c) for c in containers]


def _excursion(fact: Fact, p: dict[str, Any], shipment: Shipment) -> Event:
    start = datetime.fromisoformat(p["observed_at"])
    end = start + timedelta(minutes=int(p["duration_minutes"]))
    report = {
        "type": "Temperature",
        "exception": "ALARM_CONDITION",
        "value": float(p["temperature_celsius"]),
        "uom": "CEL",
    }
    sensor = {
        "sensorMetadata": {"time": _time(start), "startTime": _time(start), "endTime": _time(end)},
        "sensorReport": [report],
    }
    return (
        _object(fact, start, _carried(shipment.batch_ids, shipment.containers))
        | {"bizStep": "sensor_reporting", "disposition": "in_transit"}
        | {"sensorElementList": [sensor]}
        | _extensions(shipment=urn("shipment", fact.key), durationMinutes=p["duration_minutes"])
    )


def _received(fact: Fact, p: dict[str, Any], shipment: Shipment) -> Event:
    acceptable = bool(p["condition_acceptable"])
    return (
        _object(fact, p["received_at"], _carried(shipment.batch_ids, shipment.containers))
        | _quantities(shipment.containers)
        | {"bizStep": "receiving", "disposition": "in_progress" if acceptable else "damaged"}
        | _at(shipment.to_site_id)
        | {"sourceList": _ends(shipment.from_site_id, "source")}
        | {"destinationList": _ends(shipment.to_site_id, "destination")}
        | _extensions(shipment=urn("shipment", fact.key), conditionAcceptable=acceptable)
    )


# ------------------------------------------------------- custody (issue 18, item 2)


def _leg_shipped(fact: Fact, p: dict[str, Any]) -> Event:
    """A donation shipped from the collection site, or a lot transferred between sites."""
    starting = fact.aggregate_type == "Donation"
    epc = donation_uri(fact.key) if starting else lot_uri(fact.key)
    leg = p["shipment_id"] if starting else p["transfer_id"]
    return (
        _object(fact, p["dispatched_at"], [epc])
        | {"bizStep": "shipping", "disposition": "in_transit"}
        | {"readPoint": {"id": site_uri(p["from_site_id"])}}
        | {"sourceList": _ends(p["from_site_id"], "source")}
        | {"destinationList": _ends(p["to_site_id"], "destination")}
        | _extensions(
            leg=urn("leg", f"{fact.key}/{leg}"),
            courier=p["courier"],
            minCelsius=p.get("min_celsius"),
            maxCelsius=p.get("max_celsius"),
        )
    )


def _leg_received(fact: Fact, p: dict[str, Any]) -> Event:
    starting = fact.aggregate_type == "Donation"
    epc = donation_uri(fact.key) if starting else lot_uri(fact.key)
    leg = p["shipment_id"] if starting else p["transfer_id"]
    acceptable = bool(p["condition_acceptable"])
    return (
        _object(fact, p["received_at"], [epc])
        | {"bizStep": "receiving", "disposition": "in_progress" if acceptable else "damaged"}
        | _at(p["site_id"])
        | {"destinationList": _ends(p["site_id"], "destination")}
        | _extensions(leg=urn("leg", f"{fact.key}/{leg}"), conditionAcceptable=acceptable)
    )


def _leg_temperature(fact: Fact, p: dict[str, Any]) -> Event:
    start = datetime.fromisoformat(p["observed_at"])
    end = start + timedelta(minutes=int(p["duration_minutes"]))
    report: Event = {"type": "Temperature", "value": float(p["temperature_celsius"]), "uom": "CEL"}
    if p["outside_range"]:
        report["exception"] = "ALARM_CONDITION"
    sensor = {
        "sensorMetadata": {"time": _time(start), "startTime": _time(start), "endTime": _time(end)},
        "sensorReport": [report],
    }
    return (
        _object(fact, start, [donation_uri(fact.key)])
        | {"bizStep": "sensor_reporting", "disposition": "in_transit"}
        | {"sensorElementList": [sensor]}
        | _extensions(
            leg=urn("leg", f"{fact.key}/{p['shipment_id']}"),
            durationMinutes=p["duration_minutes"],
        )
    )


def _stored(fact: Fact, p: dict[str, Any]) -> Event:
    """A storage period's start (bizStep storing) or end (departing the storage location)."""
    started = fact.event_type == "Storage.Started"
    epc = (
        container_uri(f"{p['batch_id']}/{p['container_id']}")
        if p.get("container_id")
        else batch_uri(p["batch_id"])
    )
    return (
        _object(fact, p["stored_from"] if started else p["stored_until"], [epc])
        | {"bizStep": "storing" if started else "departing"}
        | _at(p["site_id"])
        | _extensions(storage=urn("storage", fact.key), storageLocation=p["location"])
    )


def _return_quarantined(fact: Fact, p: dict[str, Any]) -> Event:
    return (
        _object(fact, p["received_at"], [batch_uri(fact.key)])
        | {"bizStep": "holding", "disposition": "non_sellable_other"}
        | _at(p["site_id"])
        | _extensions(returnShipment=urn("shipment", p["shipment_id"]))
    )


def _return_assessed(fact: Fact, p: dict[str, Any]) -> Event:
    reuse = p["outcome"] == "RELEASE_FOR_REUSE"
    return (
        _object(fact, p["assessed_at"], [batch_uri(fact.key)])
        | {"bizStep": "inspecting", "disposition": "conformant" if reuse else "non_conformant"}
        | _extensions(returnOutcome=p["outcome"], reason=p["reason"])
    )


def _handed_over(fact: Fact, p: dict[str, Any], shipment: Shipment) -> Event:
    where = p.get("custodian_site_id")
    return (
        _object(fact, p["handed_over_at"], _carried(shipment.batch_ids, shipment.containers))
        | {"bizStep": "transporting", "disposition": "in_transit"}
        | ({"readPoint": {"id": site_uri(where)}} if where else {})
        | _extensions(
            shipment=urn("shipment", fact.key),
            custodian=p["custodian"],
            custodianKind=p["custodian_kind"],
        )
    )


Mapper = Callable[[Fact, dict[str, Any]], Event]

MAPPERS: dict[str, Mapper] = {
    "Donation.Recorded": _donation,
    "MaterialLot.Received": _lot_received,
    "MaterialLot.Released": _lot_decided,
    "MaterialLot.Rejected": _lot_decided,
    "CellBank.Banked": _banked,
    "CellBank.VialsTaken": _vials_taken,
    "Batch.Started": _started,
    "Batch.Pooled": _pooled,
    "Batch.StepRecorded": _step,
    "Batch.QcResultRecorded": _qc,
    "Batch.Released": _released,
    "Batch.Rejected": _rejected,
    "Batch.Destroyed": _destroyed,
    "Batch.ContainersDestroyed": _containers_destroyed,
    "Batch.Recalled": _recalled,
    "Batch.Administered": _administered,
    "Batch.ContainerAdministered": _administered,
    "Batch.ContainersFilled": _filled,
    "Shipment.Dispatched": _dispatched,
    "Donation.Shipped": _leg_shipped,
    "Donation.ShipmentReceived": _leg_received,
    "Donation.TemperatureRecorded": _leg_temperature,
    "MaterialLot.Transferred": _leg_shipped,
    "MaterialLot.TransferReceived": _leg_received,
    "Storage.Started": _stored,
    "Storage.Ended": _stored,
    "Batch.ReturnQuarantined": _return_quarantined,
    "Batch.ReturnAssessed": _return_assessed,
}
# Events that name a shipment but not where it goes or what it carries.
SHIPMENT_MAPPERS = {
    "Shipment.TemperatureExcursionRecorded": _excursion,
    "Shipment.Received": _received,
    "Shipment.HandedOver": _handed_over,
}


def epcis_event(fact: Fact, shipment_of: ShipmentOf) -> Event | None:
    """The EPCIS event of one ledger event, or None when it moves or changes nothing physical
    (a donor's consent, a site's status, a deviation) or repeats another (a batch's own copy of
    its shipment's dispatch and receipt)."""
    mapper = MAPPERS.get(fact.event_type)
    if mapper is not None:
        return mapper(fact, fact.payload)
    if fact.event_type == "Recall.ActionRecorded":
        return _recall_action(fact, fact.payload)
    shipment_mapper = SHIPMENT_MAPPERS.get(fact.event_type)
    if shipment_mapper is not None:
        shipment = shipment_of(fact.key)
        return None if shipment is None else shipment_mapper(fact, fact.payload, shipment)
    return None
