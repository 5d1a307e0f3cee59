"""Quiet the known, harmless noise of loading the heavy libraries, and nothing else.

- TensorFlow's CPU wheel registers its CUDA plugins (cuFFT, cuDNN, cuBLAS) a second time when
  XLA loads, and logs each as an ERROR line ("Unable to register cuDNN factory ...") from C++,
  straight to file descriptor 2. Only those exact lines are dropped, and only while the
  libraries load (an executor module, or the report pages' TFDV); everything else printed then
  passes through unchanged, so a real error is never hidden.
- google-auth and google-api-core (imported by Beam's GCP IO) raise FutureWarnings about grpcio
  and Python versions on import: advice for their maintainers, filtered by module.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

PLUGIN_REREGISTRATION = re.compile(
    r"Unable to register cu(FFT|DNN|BLAS) factory: Attempting to register factory for plugin "
    r"cu(FFT|DNN|BLAS) when one has already been registered")


@contextmanager
def dropped_stderr_lines(pattern: re.Pattern[str] = PLUGIN_REREGISTRATION) -> Iterator[None]:
    """Inside, lines written to fd 2 that match ``pattern`` are dropped; the rest pass."""
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    real = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not pattern.search(line.decode(errors="replace")):
                    os.write(real, line)

    pump = threading.Thread(target=forward, name="lockgate-stderr-filter", daemon=True)
    pump.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # the pipe loses its last writer: the pump reads to the end and stops
        pump.join(timeout=10)
        os.close(real)


@contextmanager
def heavy_imports_quieted() -> Iterator[None]:
    """Load heavy libraries inside this: their known noise (above) is dropped."""
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
    with dropped_stderr_lines():
        yield
