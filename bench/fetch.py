"""Fetch throughput: `clb fetch` taking 500 returned forms from a real IMAP server (Dovecot on 127.0.0.1).

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


if __name__ == "__main__":
    main()
