"""Caching: skip a node whose inputs, parameters and code are unchanged since a run that
completed, reusing that run's still-LIVE outputs."""
