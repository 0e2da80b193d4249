"""The review services under the one name the UI states still call them by.

The services live in their own modules (`templates`, `cycles`, `peers`, `writing`,
`results`, `calibration`, `common`); everything else imports those directly. Only
`ui/states/reviews.py` and `ui/states/overview.py` still say `reviews.<service>`, while
their handlers are being rewritten elsewhere: once they import the modules, delete this file.
"""

from pms_dashboard.reviews.calibration import (
    adjust_calibration,
    calibration_history,
    cycle_status,
    ninebox,
    share_results,
)
from pms_dashboard.reviews.common import scale_options
from pms_dashboard.reviews.cycles import (
    can_manage_cycles,
    close_cycle,
    create_cycle,
    get_cycle,
    launch_cycle,
    list_cycles,
    start_calibration,
)
from pms_dashboard.reviews.peers import nominate_peers, nomination_targets, peer_candidates
from pms_dashboard.reviews.results import list_my_results, my_results
from pms_dashboard.reviews.templates import create_template, list_templates
from pms_dashboard.reviews.writing import (
    get_review,
    list_my_reviews,
    reopen_review,
    save_review,
    submit_review,
)

__all__ = [
    "adjust_calibration",
    "calibration_history",
    "can_manage_cycles",
    "close_cycle",
    "create_cycle",
    "create_template",
    "cycle_status",
    "get_cycle",
    "get_review",
    "launch_cycle",
    "list_cycles",
    "list_my_results",
    "list_my_reviews",
    "list_templates",
    "my_results",
    "ninebox",
    "nominate_peers",
    "nomination_targets",
    "peer_candidates",
    "reopen_review",
    "save_review",
    "scale_options",
    "share_results",
    "start_calibration",
    "submit_review",
]
