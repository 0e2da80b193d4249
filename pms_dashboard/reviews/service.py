"""The review services under the one name the UI states still call them by.

The services live in their own modules (`templates`, `cycles`, `peers`, `writing`,
`results`, `calibration`, `common`); everything else imports those directly. Only
`ui/states/reviews.py` and `ui/states/overview.py` still say `reviews.<service>`, while
their handlers are being rewritten elsewhere: once they import the modules, delete this file.
"""

from pms_dashboard.reviews import calibration, common, cycles, peers, results, templates, writing

adjust_calibration = calibration.adjust_calibration
calibration_history = calibration.calibration_history
can_manage_cycles = cycles.can_manage_cycles
close_cycle = cycles.close_cycle
create_cycle = cycles.create_cycle
create_template = templates.create_template
cycle_status = calibration.cycle_status
get_cycle = cycles.get_cycle
get_review = writing.get_review
launch_cycle = cycles.launch_cycle
list_cycles = cycles.list_cycles
list_my_results = results.list_my_results
list_my_reviews = writing.list_my_reviews
list_templates = templates.list_templates
my_results = results.my_results
ninebox = calibration.ninebox
nominate_peers = peers.nominate_peers
nomination_targets = peers.nomination_targets
peer_candidates = peers.peer_candidates
reopen_review = writing.reopen_review
save_review = writing.save_review
scale_options = common.scale_options
share_results = calibration.share_results
start_calibration = cycles.start_calibration
submit_review = writing.submit_review
