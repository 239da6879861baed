"""Issuing a round's forms: decide what each leader needs, write the files, describe what happened.

Three plain steps the flow calls in order: ``plan_forms`` (pure: roster + what was issued before ->
what to do), ``write_forms`` (files, atomically) and ``issued_records`` (what to store). A leader keeps
their token for the round unless a reissue is asked for, so rerunning ``clb forms`` changes nothing that
does not need changing, and a leader added to the roster gets a form without disturbing anyone else.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.config import Config, Leader
from pipeline.files import atomic_write
from pipeline.forms.layout import form_version
from pipeline.forms.reference import FormFields
from pipeline.forms.template import FormTemplate
from pipeline.names import safe_segment, unique_stems
from pipeline.state import FormRecord, now

Status = Literal["new", "reissued", "updated", "unchanged"]
TOKEN_BYTES = 24  # 192 bits


@dataclass(frozen=True)
class PlannedForm:
    leader: Leader
    fields: FormFields
    path: str  # relative to the workspace
    status: Status
    inputs_hash: str
    previous_path: str | None = None


@dataclass(frozen=True)
class Plan:
    round: str
    form_version: str
    forms: tuple[PlannedForm, ...]
    removed: tuple[FormRecord, ...] = ()
    unknown_reissue: tuple[str, ...] = ()

    def count(self, status: Status) -> int:
        return sum(1 for form in self.forms if form.status == status)


@dataclass
class IssueSummary:
    """What ``clb forms`` did, for the CLI and for tests."""

    round: str
    form_version: str
    folder: str
    written: int = 0
    new: int = 0
    reissued: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: list[dict[str, str]] = field(default_factory=list)
    unknown_reissue: list[str] = field(default_factory=list)
    forgotten: list[dict[str, str]] = field(default_factory=list)  # on the roster, but asked to be forgotten

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class UnsafePath(Exception):
    """A form's path would leave outbox/forms/: never written (the names are made safe first, so this
    means a bug, and the run stops)."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def shared_fields(config: Config) -> FormFields:
    """The fields every form of the round shares; the personal ones are left empty."""
    settings = config.settings
    return FormFields(
        name="",
        organisation="",
        role="",
        token="",
        partnership=settings.partnership,
        round=settings.round,
        deadline=settings.deadline,
        facilitator_name=settings.facilitator.name,
        facilitator_email=settings.facilitator.email,
        min_group_size=settings.min_group_size,
        password=settings.form_password,
    )


def form_paths(round_id: str, leaders: Iterable[Leader]) -> dict[str, str]:
    """outbox/forms/<round>/<organisation>/<leader>.xlsx for each leader id: no two leaders ever share a
    path, whatever their names (``unique_stems``)."""
    stems = unique_stems((leader.id, leader.organisation, leader.name) for leader in leaders)
    return {leader_id: f"outbox/forms/{safe_segment(round_id)}/{stem}.xlsx" for leader_id, stem in stems.items()}


def inputs_hash(version: str, fields: FormFields, path: str) -> str:
    payload = json.dumps({"version": version, "fields": asdict(fields), "path": path}, default=str, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def plan_forms(
    config: Config,
    issued: dict[str, FormRecord],
    reissue: Iterable[str] = (),
    file_hash: Callable[[str], str | None] = lambda path: None,
) -> Plan:
    """What every roster leader needs this round. ``reissue`` holds emails, or "all"; ``file_hash`` says
    what is on disk at a workspace-relative path now (a missing or edited file is written again)."""
    wanted = {item.casefold() for item in reissue}
    everyone = "all" in wanted
    roster_ids = {leader.id for leader in config.roster}
    version = form_version(config.instrument)
    shared = shared_fields(config)
    paths = form_paths(config.settings.round, config.roster)
    planned = []
    for leader in config.roster:
        previous = issued.get(leader.id)
        renew = previous is None or everyone or leader.id in wanted
        token = new_token() if renew else previous.token  # type: ignore[union-attr]
        fields = FormFields(
            **{
                **asdict(shared),
                "name": leader.name,
                "organisation": leader.organisation,
                "role": leader.role,
                "token": token,
            }
        )
        digest = inputs_hash(version, fields, paths[leader.id])
        status: Status
        if previous is None:
            status = "new"
        elif renew:
            status = "reissued"
        elif previous.inputs_hash == digest and file_hash(paths[leader.id]) == previous.sha256:
            status = "unchanged"
        else:
            status = "updated"
        planned.append(
            PlannedForm(
                leader=leader,
                fields=fields,
                path=paths[leader.id],
                status=status,
                inputs_hash=digest,
                previous_path=previous.path if previous is not None else None,
            )
        )
    removed = tuple(record for leader_id, record in sorted(issued.items()) if leader_id not in roster_ids)
    unknown = tuple(sorted(wanted - roster_ids - {"all"}))
    return Plan(config.settings.round, version, tuple(planned), removed, unknown)


def write_forms(
    plan: Plan,
    template: FormTemplate,
    root: Path,
    progress: Callable[[int], None] = lambda done: None,
) -> dict[str, str]:
    """Write every form that is not unchanged; returns sha256 by leader id for those written."""
    written: dict[str, str] = {}
    for index, form in enumerate(plan.forms, start=1):
        if form.status != "unchanged":
            data = template.render(form.fields)
            target = (root / form.path).resolve()
            if not target.is_relative_to(root.resolve() / "outbox" / "forms"):
                raise UnsafePath(f"refusing to write outside outbox/forms: {form.path}")
            atomic_write(target, data, shared_from=root.resolve() / "outbox")  # the facilitator sends them
            written[form.leader.id] = hashlib.sha256(data).hexdigest()
        progress(index)
    return written


def issued_records(plan: Plan, written: dict[str, str], run_id: str | None = None) -> list[FormRecord]:
    """The state rows for the forms just written."""
    stamp = now()
    return [
        FormRecord(
            round=plan.round,
            leader_id=form.leader.id,
            token=form.fields.token,
            form_version=plan.form_version,
            name=form.leader.name,
            organisation=form.leader.organisation,
            email=form.leader.email,
            role=form.leader.role,
            path=form.path,
            sha256=written[form.leader.id],
            inputs_hash=form.inputs_hash,
            issued_at=stamp,
            run_id=run_id,
        )
        for form in plan.forms
        if form.leader.id in written
    ]


def summarise(plan: Plan, written: dict[str, str]) -> IssueSummary:
    return IssueSummary(
        round=plan.round,
        form_version=plan.form_version,
        folder=f"outbox/forms/{safe_segment(plan.round)}",
        written=len(written),
        new=plan.count("new"),
        reissued=plan.count("reissued"),
        updated=plan.count("updated"),
        unchanged=plan.count("unchanged"),
        removed=[{"leader_id": r.leader_id, "name": r.name, "path": r.path} for r in plan.removed],
        unknown_reissue=list(plan.unknown_reissue),
    )
