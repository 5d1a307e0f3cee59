"""``skip_gc_at_exit``: objects alive at exit are left to the OS, and atexit still runs. The
launcher's ``prepare_heavy_runtime`` turns it on for every process that executes a component."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A reference cycle with a finalizer, alive until the interpreter tears `__main__` down. Only a
# garbage collection at exit can reach it, so "collected" is printed exactly when one runs.
PROGRAM = """
import atexit, os, sys
from pipelines.exit_gc import skip_gc_at_exit
from pipelines.launcher import prepare_heavy_runtime

class Node:
    def __del__(self, write=os.write):
        write(1, b"collected\\n")

kept = Node()
kept.me = kept
atexit.register(os.write, 1, b"atexit ran\\n")
if sys.argv[1] == "skip":
    registered = atexit._ncallbacks()
    skip_gc_at_exit()
    skip_gc_at_exit()
    os.write(1, b"handlers added: %d\\n" % (atexit._ncallbacks() - registered))
elif sys.argv[1] == "launcher":
    prepare_heavy_runtime()
"""


def run_program(mode: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True,
                          text=True, check=True, cwd=Path(__file__).parents[2])
    return done.stdout.splitlines()


def test_exit_leaves_live_objects_uncollected_and_runs_atexit() -> None:
    assert run_program("skip") == ["handlers added: 1", "atexit ran"]


def test_without_it_the_exit_collection_reaches_the_cycle() -> None:
    # The control: the program above does detect a collection at exit.
    assert run_program("default") == ["atexit ran", "collected"]


def test_a_process_that_prepares_for_executors_skips_it() -> None:
    assert run_program("launcher") == ["atexit ran"]
