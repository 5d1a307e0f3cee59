"""ML Metadata: the lineage store every runner shares. ``ml_metadata`` loads only on first use."""

import os

# ML Metadata's C++ client logs every PostgreSQL connection at INFO through glog, which reads
# this when the library loads: every store is opened after this package is imported. Warnings
# and errors still show; an explicit GLOG_minloglevel wins.
os.environ.setdefault("GLOG_minloglevel", "1")


def unusable_store(where: str, error: object, sqlite: bool) -> str:
    """Why ML Metadata at ``where`` cannot be opened, and what to do about it."""
    reason = str(error).rsplit(" query:", 1)[0].strip()  # not the SQL MLMD was running
    if not sqlite:
        return f"cannot open ML Metadata at {where}: {reason}"
    return (f"cannot open ML Metadata at {where}: {reason}. The file is not a usable ML "
            "Metadata store (corrupt, truncated, or another program's). Restore it from a "
            "backup; or, to start fresh, move it aside together with the pipeline roots it "
            "recorded (their artifacts' lineage is in it).")
