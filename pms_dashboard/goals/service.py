"""Goals: lists, detail, create/edit/archive, key results, check-ins, alignment and roll-up.

This module is the goals domain's service interface (what pages, exports and the CLI call);
the work is done in the modules it names: `lists` (lists, health counts, form menus),
`detail` (one goal's page), `alignment` (the chain above a goal and the tree below it),
`changes` (create, edit, archive), `checkins` (check-ins and progress roll-up) and `rules`
(what they share: visibility, staleness, loading a goal the actor may act on).

Every function takes the caller's session (a tenant session: RLS confines it to one tenant)
and the actor, checks with `auth.permissions` what the actor may do to whose goal, and never
commits. A goal's permission subject is its owner. "Not yours" and "does not exist" are
refused the same way, so ids of other teams or tenants cannot be probed.

Progress rule: a goal's progress is the weighted mean of its components — its key results
(each from start/current/target) and its aligned, non-archived child goals (each with its
own progress). A goal with no components takes its progress from check-ins. A change to a
key result or a child walks up the alignment chain, so parents roll up at once.

Services return plain values (dates, timestamps, decimals); how they read on a page is
`ui.format`'s business.
"""

from __future__ import annotations

from pms_dashboard.goals.alignment import alignment_tree
from pms_dashboard.goals.changes import archive_goal, create_goal, update_goal
from pms_dashboard.goals.checkins import check_in, recompute_progress
from pms_dashboard.goals.detail import goal_detail
from pms_dashboard.goals.lists import (
    OWNERS_READ,
    PERIODS_READ,
    goal_health,
    goal_list_conditions,
    list_goals,
    owner_options,
    parent_options,
    periods,
)
from pms_dashboard.goals.rules import (
    DUE_SOON_DAYS,
    MAX_ALIGNMENT_DEPTH,
    kr_progress,
    stale_before,
    stale_condition,
)
from pms_dashboard.goals.schemas import GoalError

__all__ = [
    "DUE_SOON_DAYS",
    "MAX_ALIGNMENT_DEPTH",
    "OWNERS_READ",
    "PERIODS_READ",
    "GoalError",
    "alignment_tree",
    "archive_goal",
    "check_in",
    "create_goal",
    "goal_detail",
    "goal_health",
    "goal_list_conditions",
    "kr_progress",
    "list_goals",
    "owner_options",
    "parent_options",
    "periods",
    "recompute_progress",
    "stale_before",
    "stale_condition",
    "update_goal",
]
