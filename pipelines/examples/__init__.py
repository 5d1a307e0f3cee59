"""User code of the shipped example pipelines. Framework code never imports these."""
