"""Who counts as someone's report: only active people. A deactivated report no longer
counts in their manager's direct reports (the people list and a person's entry) or makes
an employee a lead; and the overview names its scope as it is: an employee with no
reports reads "Your own goals", not "You and everyone who reports to you"."""

from __future__ import annotations

from collections.abc import Callable

from pms_dashboard.people import service as people
from pms_dashboard.people.schemas import PeopleQuery
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.overview import OverviewState
from tests.conftest import TEST_PASSWORD, TenantFixture, add_person, ctx
from tests.ui_harness import call, state_for, token_for


def _reports_of(t: TenantFixture, who: str) -> int:
    admin = ctx(t, "admin")
    with tenant_session(admin) as s:
        page = people.list_people(session=s, actor=admin, query=PeopleQuery(search=who))
    [row] = [r for r in page.rows if r.id == str(t.user_id(who))]
    return row.direct_reports


def test_a_deactivated_report_no_longer_counts(make_tenant: Callable[..., TenantFixture]) -> None:
    t = make_tenant()
    add_person(t, "helper", manager="emp1")
    lead = ctx(t, "emp1")
    with tenant_session(lead) as s:
        assert people.has_reports(session=s, actor=lead)
    assert _reports_of(t, "emp1") == 1
    admin = ctx(t, "admin")
    with tenant_session(admin) as s:
        people.deactivate_user(session=s, actor=admin, person_id=t.user_id("helper"))
    with tenant_session(lead) as s:
        assert not people.has_reports(session=s, actor=lead)
    assert _reports_of(t, "emp1") == 0


def test_the_overview_names_its_scope(make_tenant: Callable[..., TenantFixture]) -> None:
    t = make_tenant()
    labels = {}
    for who in ("emp2", "manager", "admin"):
        st = state_for(OverviewState, token_for(t.slug, f"{who}@{t.slug}.test", TEST_PASSWORD))
        call(st, OverviewState.load)
        labels[who] = st.scope_label
    assert labels == {
        "emp2": "Your own goals",
        "manager": "You and everyone who reports to you",
        "admin": "Everyone in your organisation",
    }
