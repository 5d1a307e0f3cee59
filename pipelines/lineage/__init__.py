"""Lineage queries over ML Metadata: runs, one run's detail, and walks up and down the graph.

Read-only and fast: ml-metadata and small JSON files only (never TensorFlow, Beam, TFMA or
TFDV), so ``lockgate runs``, ``show`` and ``lineage`` answer in well under a second. The CLI
only parses arguments and prints what these modules return.

- ``target``: CONFIG_OR_PIPELINE to a pipeline name, its store and its root, read cheaply.
- ``graph``: the pipeline's executions, artifacts and events, loaded in a few bulk reads.
- ``runs``: ``lockgate runs`` and ``lockgate show``.
- ``blessing``: a ModelBlessing's verdict, threshold by threshold, from ``blessing.json``.
- ``walk``: upstream and downstream of an artifact; ``lockgate lineage impact``.
- ``serving``: ``lockgate lineage serving``: what made the model that is serving.
- ``snapshot``: the copy of the expanded config each execution ran with.
"""
