from pms_dashboard.db import migrate


def test_migrated_to_head(database):
    assert migrate.current_revision() == "0001"
