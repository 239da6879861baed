"""The table of contents: one plain function per job, its steps in order.

- Issuing (``issuing``): the forms of the round; the next round.
- The night (``night``): fetch, take in, close when due, build the outputs (``outputs``), tell leaders of
  replacements, apply retention, save the night's report.
- Mail (``mail``): send a kind of message, a sample, drafts marked sent.
- One return or one leader (``people``): accept a held return, enter answers from paper, place an
  unplaced file, forget a leader; and retention (purge).
- What the commands only read (``reading``): check, status, the audit trail.

The flows (``pipeline.flows``) wrap these functions and nothing else, the CLI calls flows or these, and
the tests and benchmarks call them directly, so each job's order is written once. A job opens the state
database once (``state.database``), passes the engine down, and disposes of it when it ends; a job given
an ``engine`` uses it instead (one job inside another). ``nightly`` runs each step through ``step``:
Prefect tasks in the flow, a plain call elsewhere. Heavy libraries are imported inside the jobs that use
them, so that importing this package costs a command nothing.
"""

from pipeline.stages.base import (
    Progress,
    Step,
    Timings,
    addresses,
    draft_stems,
    moment,
    opened,
    plainly,
    pseudonyms,
    stamped,
    workspace_config,
)
from pipeline.stages.issuing import DeadlinePassed, NewRoundRefused, PathsTooLong, issue_forms, new_round, paths_problem
from pipeline.stages.mail import mark_sent, send, send_test
from pipeline.stages.night import close_when_due, fetch, fetch_for_night, nightly, take_in
from pipeline.stages.outputs import build_outputs, rebuild_outputs, refresh_outputs
from pipeline.stages.people import Entered, Forgotten, NotPlaceable, accept, assign, enter, forget, purge
from pipeline.stages.reading import Status, audit_entries, check, status, verify_audit

__all__ = [
    "DeadlinePassed",
    "Entered",
    "Forgotten",
    "NewRoundRefused",
    "NotPlaceable",
    "PathsTooLong",
    "Progress",
    "Status",
    "Step",
    "Timings",
    "accept",
    "addresses",
    "assign",
    "audit_entries",
    "build_outputs",
    "check",
    "close_when_due",
    "draft_stems",
    "enter",
    "fetch",
    "fetch_for_night",
    "forget",
    "issue_forms",
    "mark_sent",
    "moment",
    "new_round",
    "nightly",
    "opened",
    "paths_problem",
    "plainly",
    "pseudonyms",
    "purge",
    "rebuild_outputs",
    "refresh_outputs",
    "send",
    "send_test",
    "stamped",
    "status",
    "take_in",
    "verify_audit",
    "workspace_config",
]
