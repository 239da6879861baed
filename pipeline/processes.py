"""Processes on Windows, macOS and Linux alike: is one alive, and how to stop one.

``os.kill(pid, 0)`` asks a POSIX system whether a process exists, but on Windows any signal other than
the two console events *terminates* the process: it must never be used to ask. Here each family gets
its own call, chosen at run time, so that nothing POSIX-only is imported on Windows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

WINDOWS = sys.platform == "win32"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id is running now (a zombie of ours counts as gone)."""
    if pid <= 0:
        return False
    if WINDOWS:
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another account's process: alive
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A child that died and was not reaped yet still answers signal 0 on POSIX."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


def _windows_alive(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    import ctypes

    synchronize, query = 0x00100000, 0x1000  # SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION
    kernel = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel.OpenProcess(synchronize | query, False, pid)
    if not handle:
        return False
    try:
        return bool(kernel.WaitForSingleObject(handle, 0) == 0x102)  # WAIT_TIMEOUT: still running
    finally:
        kernel.CloseHandle(handle)


def stop(process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    """Ask ``process`` to stop (SIGTERM; on Windows, TerminateProcess), then kill it if it has not
    within ``seconds``; always reaped."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def die_with_parent() -> None:
    """On Linux, ask the kernel to send this process SIGTERM when the process that started it dies (even
    by SIGKILL); elsewhere a watchdog thread does the same (``engine_server``)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the watchdog alone
        pass
