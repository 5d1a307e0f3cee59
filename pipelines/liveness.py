"""Who is running an execution, and whether that process still lives.

A RUNNING execution records its owner as ``host:pid:start``, where ``start`` is the process's
start time from ``/proc`` (so a pid the kernel reused for another process does not count as
the owner). On the same host the owner's liveness can be checked; another host's cannot, and
Airflow, which only retries a task once its attempt is gone, is trusted there.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot, or "" when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> str:
    """The owner token of the current process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid)}"


def owner_alive(owner: str) -> bool | None:
    """Whether the process ``owner`` names still runs: None when it is on another host."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if not pid_text.isdigit():
        return False  # recorded before owners were: that process is long gone
    if host != socket.gethostname():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # our own earlier attempt, in a process that has since been replaced
    current = process_start(pid)
    return bool(current) and (not start or current == start)


def describe(owner: str) -> str:
    host, _, rest = owner.partition(":")
    return f"pid {rest.partition(':')[0]} on {host}"
