from pms_dashboard.db import migrate


def test_migrated_to_head(database):
    head = migrate.head_revision()
    assert head is not None and head != "0001", "the scripts have a head past the first"
    assert migrate.current_revision() == head
