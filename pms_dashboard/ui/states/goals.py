"""My goals: thin state — who is asking, one tenant session, one service call, plain vars."""

from __future__ import annotations

from typing import Any

import reflex as rx
from pydantic import ValidationError

from pms_dashboard.goals import service as goals_service
from pms_dashboard.goals.schemas import GoalListQuery
from pms_dashboard.tenancy.session import tenant_session
from pms_dashboard.ui.states.session import SessionState

PAGE_SIZE = 10


class MyGoalsState(SessionState):
    """One page of the signed-in user's goals; never more than PAGE_SIZE rows in state."""

    rows: list[dict[str, Any]] = []
    total: int = 0
    page: int = 1
    pages: int = 1
    sort: str = "due_date"
    descending: bool = False
    status: str = "all"
    search: str = ""
    error: str = ""

    def _load(self, **changes: Any):
        principal = self._principal()
        if principal is None:
            self._forget()
            self.rows = []
            return rx.redirect("/signin", replace=True)
        wanted = {
            "page": self.page,
            "page_size": PAGE_SIZE,
            "sort": self.sort,
            "descending": self.descending,
            "status": self.status,
            "search": self.search,
        } | changes
        try:
            query = GoalListQuery(**wanted)
        except ValidationError:
            self.error = "That filter or sort is not available."
            return None
        with tenant_session(principal.context) as session:
            page = goals_service.list_goals_for_owner(
                session=session, owner_id=principal.user_id, query=query
            )
        self._show(principal)
        self.error = ""
        self.rows = page.rows_as_dicts()
        self.total, self.page, self.pages = page.total, page.page, page.pages
        self.sort, self.descending = query.sort, query.descending
        self.status, self.search = query.status or "all", query.search
        return None

    @rx.event
    def load(self):
        return self._load()

    @rx.event
    def next_page(self):
        return self._load(page=self.page + 1)

    @rx.event
    def previous_page(self):
        return self._load(page=max(1, self.page - 1))

    @rx.event
    def filter_status(self, status: str | list[str]):
        return self._load(status=status if isinstance(status, str) else "", page=1)

    @rx.event
    def search_titles(self, form: dict[str, Any]):
        return self._load(search=str(form.get("search", "")), page=1)

    @rx.event
    def sort_by(self, column: str):
        descending = not self.descending if column == self.sort else False
        return self._load(sort=column, descending=descending, page=1)
