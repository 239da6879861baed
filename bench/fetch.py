"""Fetch throughput: `clb fetch` taking 500 returned forms from a real IMAP server (Dovecot on 127.0.0.1);
then what one hostile message costs: a megabyte of Content-Type parameters, beside Python's email parser
(what the fetch used before) on the same bytes, each in a process of its own for its peak memory.

Run: uv run python -m bench.fetch [--messages 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args()
    from bench.forms import make_workspace
    from pipeline.config import load_config
    from pipeline.mail.fetch import fetch_returns
    from pipeline.simulate import answers, fill
    from pipeline.state import active_forms, open_state
    from pipeline.workspace import Workspace
    from tests.conftest import issue_forms_here
    from tests.imap_server import Dovecot

    server = Dovecot()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch) / "ws"
            root.mkdir()
            make_workspace(root, args.messages, 20)
            (root / "inbox").mkdir()
            (root / "outbox").mkdir()
            issue_forms_here(root)
            settings = root / "config" / "partnership.yaml"
            data = yaml.safe_load(settings.read_text(encoding="utf-8"))
            data["mail"] = {"imap": {"host": "127.0.0.1", "port": server.port, "security": "none"}}
            settings.write_text(yaml.safe_dump(data), encoding="utf-8")
            config = load_config(root / "config")
            engine = open_state(root / "state" / "clb.sqlite")
            choices = {n: ("comfortable", "stretched", "panicked")[n % 3] for n in range(1, 8)}
            client = server.client()
            size = 0
            for number, record in enumerate(
                sorted(active_forms(engine, "2026-Q4").values(), key=lambda r: r.leader_id)
            ):
                mail = EmailMessage()
                mail["From"], mail["Subject"] = record.leader_id, "My CLB form"
                mail["Message-ID"] = f"<{number}@bench.example>"
                mail.set_content("Here it is.")
                form = fill((root / record.path).read_bytes(), config.instrument, answers(config.instrument, choices))
                mail.add_attachment(form, maintype="application", subtype="octet-stream", filename="CLB form.xlsx")
                raw = bytes(mail)
                size += len(raw)
                client.append('"INBOX"', None, None, raw)
            client.logout()
            start = time.perf_counter()
            report = fetch_returns(Workspace.at(root), engine, config, server.environ())
            seconds = time.perf_counter() - start
    finally:
        server.stop()
    count = len(report.saved)
    print(f"clb fetch: {report.messages} messages ({size / 1024 / 1024:.1f} MiB), {count} forms saved")
    per = seconds / max(count, 1) * 1000
    print(f"  {seconds:.2f} s in all, {per:.1f} ms per message, {count / seconds:.0f} messages/s")
    poison()


def params_message(count: int) -> bytes:
    params = b"".join(b";\r\n a%d=b" % i for i in range(count))
    return b"From: a@b.example\r\nSubject: params\r\nContent-Type: text/plain" + params + b"\r\n\r\nhi\r\n"


CHILD_OLD = """
import email, email.policy, resource, sys, time
from email.message import EmailMessage
raw = open(sys.argv[1], "rb").read()
start = time.perf_counter()
message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
for part in message.walk():
    part.get_filename()
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CHILD_NEW = """
import sys
from bench.fetch import one_message
print(*one_message(sys.argv[1]))
"""


def one_message(path: str) -> tuple[float, int]:
    """`clb fetch` of one message (saved at ``path``) from a fresh Dovecot: seconds and peak memory (KiB)."""
    import resource

    from pipeline.config import load_config
    from pipeline.mail.fetch import fetch_returns
    from pipeline.state import open_state
    from pipeline.workspace import Workspace
    from tests.conftest import example_workspace
    from tests.imap_server import Dovecot

    server = Dovecot()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            root = example_workspace(Path(scratch) / "ws")
            settings = root / "config" / "partnership.yaml"
            data = yaml.safe_load(settings.read_text(encoding="utf-8"))
            data["mail"] = {"imap": {"host": "127.0.0.1", "port": server.port, "security": "none"}}
            settings.write_text(yaml.safe_dump(data), encoding="utf-8")
            server.append(Path(path).read_bytes())
            engine = open_state(root / "state" / "clb.sqlite")
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            report = fetch_returns(Workspace.at(root), engine, load_config(root / "config"), server.environ())
            seconds = time.perf_counter() - start
            assert report.messages == 1
            return seconds, max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
    finally:
        server.stop()


def poison() -> None:
    """A message of Content-Type parameters: Python's email parser (before) against clb's fetch (now)."""
    import subprocess
    import sys

    print("\nOne hostile message (Content-Type parameters), each in its own process:")
    print(f"  {'size':>8}  {'email parser (before)':>24}  {'clb fetch (now)':>22}  ratio")
    for count in (15_000, 90_000, 450_000):
        raw = params_message(count)
        with tempfile.NamedTemporaryFile(suffix=".eml", delete=False) as handle:
            handle.write(raw)
        cwd = Path(__file__).resolve().parents[1]
        if count <= 90_000:
            old = subprocess.run(
                [sys.executable, "-c", CHILD_OLD, handle.name], capture_output=True, text=True, cwd=cwd
            )
            old_s, old_kib = (float(x) for x in old.stdout.split())
            before = f"{old_s:8.1f} s {old_kib / 1024:7.0f} MiB"
        else:
            old_s, before = 0.0, f"{'(not run: minutes)':>24}"
        new = subprocess.run([sys.executable, "-c", CHILD_NEW, handle.name], capture_output=True, text=True, cwd=cwd)
        assert new.returncode == 0, new.stderr
        new_s, new_kib = (float(x) for x in new.stdout.split())
        ratio = f"{old_s / new_s:6.0f}x" if old_s else ""
        now = f"{new_s * 1000:8.1f} ms {new_kib / 1024:6.1f} MiB"
        print(f"  {len(raw) / 1024 / 1024:6.2f} MB  {before:>24}  {now}  {ratio}")
        Path(handle.name).unlink()


if __name__ == "__main__":
    main()
