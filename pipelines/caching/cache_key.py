"""The cache key: one pure function of everything that determines a node's outputs.

It hashes, as canonical JSON:
- the component type and version (bump the version when an executor's output changes);
- the resolved parameters, as validated by the component's params model;
- each input artifact's MLMD id and content fingerprint, by port name, in port order;
- the fingerprint of the user code the component runs (``user_code_fingerprint``), and of
  any external input the component reads that is not an artifact (ExampleGen's files).

Anything not listed cannot change the key: run ids, timestamps, beam_args (they choose where
work runs, not what it computes) and the paths of the outputs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

KEY_FORMAT = 1  # bump to invalidate every cached execution when this function changes


def cache_key(
    *,
    component: str,
    version: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Sequence[tuple[int, str]]],
    code_fingerprint: str = "",
    external_fingerprint: str = "",
) -> str:
    """Return a hex SHA-256 over the canonical JSON of the arguments."""
    document = {
        "format": KEY_FORMAT,
        "component": component,
        "version": version,
        "params": params,
        "inputs": {name: [list(pair) for pair in pairs] for name, pairs in inputs.items()},
        "code": code_fingerprint,
        "external": external_fingerprint,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
