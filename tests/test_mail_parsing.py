"""What a hostile message's server-side description and headers can do to the fetch: nothing but cost
themselves. The server's BODYSTRUCTURE reply and the header fields are parsed by clb's own bounded code
(pipeline/mail/structure.py, headers.py); these properties hold for any bytes."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.mail.headers import address, evidence, fields
from pipeline.mail.structure import MAX_DEPTH, Malformed, TooComplex, body_structure, decoded_filename, parse, parts
from pipeline.text import is_visible

XLSX = (
    b'("application" "vnd.openxmlformats-officedocument.spreadsheetml.sheet" ("name" "f.xlsx") NIL NIL "base64" '
    b'2000 NIL ("attachment" ("filename" "CLB form.xlsx")) NIL NIL)'
)
TEXT = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 1 NIL NIL NIL NIL)'


def reply(structure: bytes) -> bytes:
    return b"1 (UID 7 BODYSTRUCTURE " + structure + b")"


def test_sections_are_numbered_as_fetch_wants_them():
    forwarded = (
        b'("message" "rfc822" NIL NIL NIL "7bit" 3000 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ('
        + TEXT
        + XLSX
        + b' "mixed" ("boundary" "x") NIL NIL NIL) 40 NIL NIL NIL NIL)'
    )
    structure = b"(" + TEXT + forwarded + XLSX + b' "mixed" ("boundary" "y") NIL NIL NIL)'
    found = parts(body_structure(reply(structure)))
    assert [(p.section, p.content_type, p.filename) for p in found] == [
        ("1", "text/plain", ""),
        ("2.1", "text/plain", ""),
        ("2.2", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "CLB form.xlsx"),
        ("3", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "CLB form.xlsx"),
    ]
    assert parts(body_structure(reply(XLSX)))[0].section == "1"  # a message that is only the attachment


def test_literals_quotes_and_encoded_names_read():
    literal = b'("application" "octet-stream" ("name" {13}\r\nJos\xc3\xa9 "x".xls) NIL NIL "base64" 10 NIL NIL NIL NIL)'
    [part] = parts(body_structure(reply(literal)))
    assert part.filename == 'José "x".xls' and part.encoding == "base64" and part.size == 10
    assert decoded_filename({"filename*0*": "utf-8''Zo%C3%AB%20", "filename*1": "CLB.xlsx"}) == "Zoë CLB.xlsx"
    assert decoded_filename({"name": "=?utf-8?b?Wm/Dqy54bHN4?="}) == "Zoë.xlsx"
    assert decoded_filename({"filename*": "x-unknown''%FF.xlsx"}) == "\ufffd.xlsx"


def test_limits_make_a_message_cost_nothing():
    deep = b"(" * (MAX_DEPTH + 2) + b")" * (MAX_DEPTH + 2)
    try:
        parse(deep)
        raise AssertionError("too deep must be refused")
    except TooComplex:
        pass
    many = b"(" + TEXT * 250 + b' "mixed")'
    try:
        parts(body_structure(reply(many)))
        raise AssertionError("too many parts must be refused")
    except TooComplex:
        pass


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=400))
def test_any_reply_parses_or_is_refused(data):
    try:
        found = parts(body_structure(reply(data)))
    except (TooComplex, Malformed):
        return
    for part in found:
        assert all(piece.isdigit() for piece in part.section.split("."))
        assert part.size >= 0


NODES = st.recursive(
    st.one_of(st.none(), st.binary(max_size=8), st.sampled_from([b"text", b"plain", b"base64", b"attachment", b"12"])),
    lambda children: st.lists(children, max_size=12),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(structure=NODES)
def test_any_structure_walks_without_raising(structure):
    with contextlib.suppress(TooComplex):
        parts(structure)


@settings(max_examples=400, deadline=None)
@given(raw=st.binary(max_size=3000))
def test_any_header_bytes_give_visible_evidence(raw):
    said = evidence(raw)
    for text in (said.sender, said.subject, said.date, said.message_id, said.authentication):
        assert is_visible(text)
    assert said.sender == "" or ("@" in said.sender and " " not in said.sender)


def test_the_headers_that_stopped_every_night_read():
    assert address("=?utf-8?q?=0d=0a?= <a@b.example>") == "a@b.example"
    assert address("(" * 900 + ")" * 900 + " a@b.example") == "a@b.example"
    assert (
        fields(b"From: a@b.example\r\nSubject: =?utf-8?q?=0d=0aBcc:_x?=\r\n\r\n")["subject"]
        == "=?utf-8?q?=0d=0aBcc:_x?="
    )
    said = evidence(b"From: a@b.example\r\nSubject: =?utf-8?q?=0d=0aBcc:_x?=\r\n")
    assert said.subject == "\\u000d\\u000aBcc: x" or "\\r" in said.subject or "\\x0d" in said.subject
    long = b"Subject: " + b"x" * 1_000_000 + b"\r\n"
    assert len(evidence(long).subject) <= 300


def test_authentication_results_are_evidence_and_a_failure_is_seen():
    said = evidence(
        b"Authentication-Results: mx.council.example; spf=fail smtp.mailfrom=a@b.example; dkim=none; dmarc=fail\r\n"
        b"Authentication-Results: forged.example; spf=pass; dkim=pass; dmarc=pass\r\nFrom: a@b.example\r\n"
    )
    assert said.authentication == "spf=fail dkim=none dmarc=fail" and said.authentication_failed
    assert not evidence(b"Authentication-Results: mx; spf=pass; dkim=pass; dmarc=pass\r\n").authentication_failed
