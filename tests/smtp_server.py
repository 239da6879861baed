"""A real SMTP server for the mail tests: aiosmtpd on 127.0.0.1, in its own process.

Every accepted message is saved as <n>.eml with <n>.json (envelope) in the folder given. A file
control.json in that folder makes the server misbehave on purpose: {"transient": 2} answers the next two
messages with 451, {"permanent": ["addr@x"]} refuses those recipients with 550 for good.

Run: python tests/smtp_server.py --port P --folder D [--cert C --key K] [--auth USER:PASSWORD]
"""

from __future__ import annotations

import argparse
import json
import signal
import ssl
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    def _control(self) -> dict:
        path = self.folder / "control.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _save_control(self, control: dict) -> None:
        (self.folder / "control.json").write_text(json.dumps(control))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self._control().get("permanent", []):
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            control = self._control()
            if control.get("transient", 0) > 0:
                control["transient"] -= 1
                self._save_control(control)
                return "451 4.3.0 Temporary failure, try again later"
            self.count += 1
            number = self.count
        (self.folder / f"{number:04d}.eml").write_bytes(envelope.original_content)
        (self.folder / f"{number:04d}.json").write_text(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "tls": session.ssl is not None,
                    "authenticated": bool(session.authenticated),
                }
            )
        )
        return f"250 OK queued as {number:04d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    options: dict = {}
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        options |= {"tls_context": context, "require_starttls": True}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

        options |= {"authenticator": authenticator, "auth_require_tls": bool(args.cert)}
    controller = Controller(Handler(args.folder), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
