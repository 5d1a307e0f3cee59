"""ML Metadata: the lineage store every runner shares. ``ml_metadata`` loads only on first use."""

import os

# ML Metadata's C++ client logs every PostgreSQL connection at INFO through glog, which reads
# this when the library loads: every store is opened after this package is imported. Warnings
# and errors still show; an explicit GLOG_minloglevel wins.
os.environ.setdefault("GLOG_minloglevel", "1")
