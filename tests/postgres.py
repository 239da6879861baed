"""A throwaway PostgreSQL for the tests: Debian's server in a temporary folder on 127.0.0.1, run as an
unprivileged user where the tests run as root (PostgreSQL refuses root), stopped by its process id."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port, wait_for_port

NOBODY = 65534


def binaries() -> Path | None:
    """Debian's PostgreSQL programs, the newest version installed; None when there are none."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    found = shutil.which("postgres")
    return Path(found).parent if found else None


class Postgres:
    """``Postgres()`` starts one; ``url`` is Prefect's connection URL to it; ``stop()`` stops it."""

    def __init__(self) -> None:
        programs = binaries()
        if programs is None:
            import pytest

            pytest.skip("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")
        self.folder = Path(tempfile.mkdtemp(prefix="clb-postgres-"))
        self.folder.chmod(0o755)
        self.port = free_port()
        data = self.folder / "data"
        data.mkdir()
        self.uid = NOBODY if os.getuid() == 0 else os.getuid()
        if os.getuid() == 0:
            shutil.chown(self.folder, self.uid, self.uid)
            shutil.chown(data, self.uid, self.uid)
        subprocess.run(
            [str(programs / "initdb"), "-D", str(data), "-U", "clb", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=self._drop,
            cwd=self.folder,
        )
        self.process = subprocess.Popen(
            [
                str(programs / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "postgres.log").open("wb"),
            preexec_fn=self._drop,
            cwd=self.folder,
        )
        if not wait_for_port(self.port, self.process, 60):
            log = (self.folder / "postgres.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {log}")

    def _drop(self) -> None:
        if os.getuid() == 0:
            os.setgid(NOBODY)
            os.setuid(NOBODY)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://clb@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # by its pid: a "smart" shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
