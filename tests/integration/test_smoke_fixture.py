from tests.conftest import ADMIN, ledger_size


def test_a_registered_control_site_is_one_event_in_the_ledger(service):
    service.app.sites.register_site(
        ADMIN,
        site_id="TW-CTRL",
        name="Taipei control",
        kind="CONTROL_SITE",
        jurisdiction="TW",
        country="TW",
        supervising_authority="TFDA",
    )
    assert ledger_size(service) == 1
