"""ML Metadata: the lineage store every runner shares. ``ml_metadata`` loads only on first use."""
