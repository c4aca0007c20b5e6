"""What Taiwan's 2025 source-and-flow rules add to the records (issue 18, item 3), as commands:

- an import declaration (輸入): the customs-declaration number and date, the quantity imported, the
  importing site, and the batches it brought in (a batch made in the importer's own country is not
  imported, and is refused);
- an institution's patient (醫療機構病人): the identity behind a patient code at one medical
  institution, sealed like a donor's personal data (api/privacy.py) and opened only for that
  institution and the regulators who reach it; its date of birth decides, in memory, the day the
  patient comes of age, which alone is kept in clear (an institution keeps a minor's record until
  years after adulthood, domain/data/record_retention.json).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.batch import Batch
from domain.donor_protection import age_of_majority, date_of_birth
from domain.ledger import LedgerApplication, actor
from domain.records import years_after
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    LedgerAggregate,
    LedgerCreated,
    Principal,
    RuleViolationError,
    require_identifier,
    require_time,
    utcnow,
)
from domain.site import Site, SiteKind, operating_site


class ImportDeclaration(LedgerAggregate):
    """One customs declaration of an import, by its number."""

    TYPE = "ImportDeclaration"

    class Declared(LedgerAggregate.Event, LedgerCreated):
        batch_ids: tuple[str, ...]
        quantity: int
        declared_at: datetime
        site_id: str

    def __init__(
        self, batch_ids: tuple[str, ...], quantity: int, declared_at: datetime, site_id: str
    ) -> None:
        self.batch_ids = batch_ids
        self.quantity = quantity
        self.declared_at = declared_at
        self.site_id = site_id


class InstitutionPatient(LedgerAggregate):
    """The identity behind a patient code at one medical institution, sealed. Its key is the
    institution's site id and the patient code (``TW-MI-NTUH.PT-0001``)."""

    TYPE = "InstitutionPatient"

    class Recorded(LedgerAggregate.Event, LedgerCreated):
        site_id: str
        patient_code: str
        sealed_identity: str
        adult_on: str | None  # the ISO day the patient comes of age, where a birth date was given

    def __init__(
        self, site_id: str, patient_code: str, sealed_identity: str, adult_on: str | None
    ) -> None:
        self.site_id = site_id
        self.patient_code = patient_code
        self.sealed_identity = sealed_identity
        self.adult_on = adult_on


def patient_key(site_id: str, patient_code: str) -> str:
    return f"{site_id}.{patient_code}"


class InstitutionRecordCommands:
    """Import declarations, and the identity of an institution's patients."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def declare_import(
        self,
        principal: Principal,
        declaration_number: str,
        batch_ids: list[str],
        quantity: int,
        declared_at: datetime,
        site_id: str,
    ) -> CommandResult:
        number = require_identifier(declaration_number, "declarationNumber")
        ids = tuple(dict.fromkeys(require_identifier(b, "batchIds") for b in batch_ids))
        if not ids:
            raise BadInputError("batchIds names at least one batch", field="batchIds")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise BadInputError("quantity is a whole number of units, at least 1", field="quantity")
        declared_at = require_time(declared_at, "declaredAt")
        with self.ledger.unit_of_work() as uow:
            if uow.exists(ImportDeclaration, number):
                raise ConflictError(f"declaration {number!r} is already recorded", id=number)
            importer = operating_site(uow, site_id, declared_at)
            for batch_id in ids:
                batch = uow.load(Batch, batch_id)
                maker = uow.load(Site, batch.site_id)
                if maker.country == importer.country:
                    raise RuleViolationError(
                        f"batch {batch_id!r} was made in {maker.country}, the importing site's "
                        "own country: it is not imported",
                        batch_id=batch_id,
                    )
                if declared_at < batch.started_at:
                    raise RuleViolationError(
                        f"declaredAt {declared_at.isoformat()} precedes the start of batch "
                        f"{batch_id!r}",
                        batch_id=batch_id,
                    )
            declaration = ImportDeclaration._create(
                ImportDeclaration.Declared,
                id=ImportDeclaration.ledger_id(number),
                batch_ids=ids,
                quantity=quantity,
                declared_at=declared_at,
                site_id=importer.key,
                occurred_at=declared_at,
                **actor(principal),
            )
            return uow.save(declaration)

    def record_patient_identity(
        self,
        principal: Principal,
        site_id: str,
        patient_code: str,
        identity: dict[str, Any],
        recorded_at: datetime | None = None,
    ) -> CommandResult:
        code = require_identifier(patient_code, "patientCode")
        if not isinstance(identity, dict) or not identity:
            raise BadInputError(
                "identity holds the patient's identifying details", field="identity"
            )
        born = date_of_birth(identity)  # refused here when unreadable
        at = require_time(recorded_at, "recordedAt") if recorded_at else None
        if self.ledger.sealer is None:
            raise RuleViolationError("no personal-data key is configured to seal the identity")
        key = patient_key(site_id, code)
        with self.ledger.unit_of_work() as uow:
            if uow.exists(InstitutionPatient, key):
                raise ConflictError(f"patient {code!r} is already recorded at {site_id!r}", id=key)
            site = uow.load(Site, site_id)
            if site.kind is not SiteKind.MEDICAL_INSTITUTION:
                raise RuleViolationError(
                    f"site {site_id!r} is a {site.kind.value}; a patient's identity is the "
                    "record of the MEDICAL_INSTITUTION that treats the patient",
                    site_id=site_id,
                )
            adult_on = None
            if born is not None:
                adult_on = years_after(born, age_of_majority(site.jurisdiction)).isoformat()
            plaintext = json.dumps(identity, sort_keys=True, ensure_ascii=False).encode()
            patient = InstitutionPatient._create(
                InstitutionPatient.Recorded,
                id=InstitutionPatient.ledger_id(key),
                site_id=site.key,
                patient_code=code,
                sealed_identity=self.ledger.sealer.seal(
                    plaintext, InstitutionPatient.ledger_id(key)
                ),
                adult_on=adult_on,
                occurred_at=at or utcnow(),
                **actor(principal),
            )
            return uow.save(patient)
