"""Lockgate's standard components, each a subpackage with a cheap spec (``SPEC`` in its
``__init__``) and a heavy executor loaded only when a node runs.

They are written against ``pipelines.sdk`` alone, as an author's component is, and they are
found the way a third-party package's are: through the ``lockgate.components`` entry points
in ``pyproject.toml``. The framework never imports this package.
"""
