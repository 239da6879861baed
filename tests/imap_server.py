"""A real IMAP server for the fetch tests: Debian's Dovecot, started by the test on 127.0.0.1 with a
throwaway user and maildir in a temporary folder, and stopped by its process id.

Messages are delivered as a mail program would file them, with IMAP APPEND.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_for_port

USER, PASSWORD = "returns", "clb-test-password"


def require_dovecot() -> str:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Dovecot is not installed; .ci/run should have installed dovecot-imapd")
        pytest.skip("Dovecot is not installed (dovecot-imapd)")
    return found


class Dovecot:
    """Dovecot in a folder of its own under /tmp (its login and mail processes run as other users, who
    cannot enter pytest's private temporary folders), removed when it stops."""

    def __init__(self) -> None:
        program = require_dovecot()
        folder = Path(tempfile.mkdtemp(prefix="clb-dovecot-"))
        folder.chmod(0o755)
        self.folder = folder
        self.port = free_port()
        for name in ("run", "state", "home"):
            (folder / name).mkdir(parents=True, exist_ok=True)
            (folder / name).chmod(0o755)  # whatever the umask (clb sets 077): Dovecot's own users read them
        (folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        (folder / "users").chmod(0o644)
        uid, gid = os.getuid(), os.getgid()
        if uid == 0:  # Dovecot will not keep mail as root: a throwaway mailbox owned by nobody
            uid = gid = 65534
            shutil.chown(folder / "home", uid, gid)
        (folder / "dovecot.conf").write_text(
            f"""base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
}}
service anvil {{
  chroot =
}}
"""
        )
        (folder / "dovecot.conf").chmod(0o644)
        self.process = subprocess.Popen(
            [program, "-F", "-c", str(folder / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for_port(self.port, self.process, 30):
            self.stop()
            log = (folder / "dovecot.log").read_text() if (folder / "dovecot.log").exists() else ""
            raise RuntimeError(f"Dovecot did not start: {log[-2000:]}")

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            status, _ = client.append(f'"{folder}"', None, None, raw)
            assert status == "OK"
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.client()
        try:
            status, data = client.select(f'"{folder}"', readonly=True)
            return int(data[0]) if status == "OK" and data and data[0] else 0
        finally:
            client.logout()

    def environ(self) -> dict[str, str]:
        return {"CLB_IMAP_USERNAME": USER, "CLB_IMAP_PASSWORD": PASSWORD}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    """A throwaway returns mailbox for `clb demo --imap`: prints where it is and the login, until Ctrl-C."""
    server = Dovecot()
    print(f"IMAP on 127.0.0.1:{server.port}; export CLB_IMAP_USERNAME={USER} CLB_IMAP_PASSWORD={PASSWORD}")
    print(f"then: clb demo --workspace /tmp/clb-demo --imap 127.0.0.1:{server.port}   (Ctrl-C stops the server)")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
