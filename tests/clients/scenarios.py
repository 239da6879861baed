"""The answers the real-client tests enter, shared by the tests and the fixture maker.

Each scenario is what a leader types, by defined name, and what the form's own status cells must show
after the program recalculated them (count of marks per perspective row).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from pipeline.forms.reference import FormFields

FIELDS = FormFields(
    name="José Álvarez",
    organisation="University of Riverside",
    role="Director of Civic Engagement",
    partnership="Riverside Community Partnership",
    round="2026-Q4",
    deadline=dt.date(2026, 12, 18),
    facilitator_name="Sam Okafor",
    facilitator_email="sam.okafor@riverside-partnership.example",
    token="fixture-token-complete",
)

# LibreOffice, every row answered in a different style a leader might use.
COMPLETE = {
    "p1_comfortable": ("string", "✓"),
    "p2_stretched": ("string", "x"),
    "p3_panicked": ("formula", "=TRUE()"),
    "p4_comfortable": ("value", 1),
    "p5_stretched": ("string", "X"),
    "p6_stretched": ("string", "✔"),
    "p7_panicked": ("string", "✓"),
    "log_project": ("string", "Community safety pilot, November 2026"),
    "log_outcome": ("string", '=HYPERLINK("http://example.org","see notes")'),
}
COMPLETE_COUNTS = [1, 1, 1, 1, 1, 1, 1]

# LibreOffice, with the problems intake must find: two marks, an empty row, a FALSE beside a tick.
PROBLEMS = {
    "p1_comfortable": ("string", "✓"),
    "p1_stretched": ("string", "✓"),
    "p3_comfortable": ("formula", "=FALSE()"),
    "p3_stretched": ("string", "✓"),
    "p4_panicked": ("string", "maybe"),
    "p5_comfortable": ("string", "-"),
    "p5_panicked": ("string", "x"),
    "p6_comfortable": ("string", "✓"),
    "p7_stretched": ("string", "✓"),
}
PROBLEMS_COUNTS = [2, 0, 1, 1, 1, 1, 1]

# Gnumeric: typed into the cells of the issued form, then loaded and saved by Gnumeric.
GNUMERIC = {
    "p1_comfortable": "✓",
    "p2_stretched": "x",
    "p3_panicked": "✓",
    "p4_comfortable": "✓",
    "p5_stretched": "✓",
    "p6_comfortable": "X",
    "p7_panicked": "✓",
}
GNUMERIC_COUNTS = [1, 1, 1, 1, 1, 1, 1]


def fields(token: str) -> FormFields:
    return dataclasses.replace(FIELDS, token=token)
