"""The chain of identity: one identifier binding donor, donation and intended patient.

The identifier is assigned once, at collection (domain/isbt128.py ``chain_of_identity_for``: the
ISBT 128 ``CH`` form for a DIN, ``COI-`` + the local code otherwise), and checked here at batch
start; the hand-overs and the bedside compare what they read with ``require_same``.

The rules (wrong-patient infusion is the defining hazard of personalised cell therapy): an
autologous product is made only from an autologous donation, only for the patient bound to it at
collection; an allogeneic product is never made from an autologous donation (its donor was not
screened for others); a donation that names its intended patient serves no other patient, while
a second batch for the same patient (a re-manufacture after a failed batch) is allowed.
"""

from __future__ import annotations

from domain.donation import Donation, DonationType
from domain.reference import Origin, Product
from domain.shared import RuleViolationError


def require_may_make(product: Product, donation: Donation, patient_code: str) -> None:
    """Refuse a batch of ``product`` from ``donation`` for ``patient_code`` that breaks the
    chain of identity."""
    autologous = donation.donation_type is DonationType.AUTOLOGOUS
    if product.origin is Origin.AUTOLOGOUS and not autologous:
        _refuse(
            f"{product.code} is an autologous product; donation {donation.key!r} is "
            "ALLOGENEIC, and an autologous product is made only from the patient's own cells",
            donation,
        )
    if product.origin is Origin.ALLOGENEIC and autologous:
        _refuse(
            f"{product.code} is an allogeneic product; donation {donation.key!r} is AUTOLOGOUS "
            "(collected for its donor's own therapy, the donor not screened for others)",
            donation,
        )
    intended = donation.intended_patient_code
    if autologous and intended is None:
        _refuse(
            f"donation {donation.key!r} names no intended patient (recorded before the chain "
            "of identity was kept); an autologous product needs the patient bound at collection",
            donation,
        )
    if intended is not None and patient_code != intended:
        _refuse(
            f"donation {donation.key!r} (chain of identity {donation.chain_of_identity_id}) "
            f"was collected for another patient than {patient_code!r}; one donation serves "
            "one patient",
            donation,
        )


def require_same(given: str | None, expected: str, what: str, batch_id: str) -> None:
    """When a hand-over states the identifier it read, it must be the batch's. The refusal does
    not say the expected identifier: it is read from the label, never copied from an error."""
    if given is not None and given.strip() != expected:
        raise RuleViolationError(
            f"chain-of-identity check failed at {what}: {given.strip()!r} is not the "
            f"chain-of-identity identifier of batch {batch_id!r}",
            batch_id=batch_id,
        )


def _refuse(message: str, donation: Donation) -> None:
    raise RuleViolationError(
        message,
        donation_id=donation.key,
        chain_of_identity_id=donation.chain_of_identity_id,
    )
