"""Data for the shipped example pipelines: the prepared penguins CSV and the pupdates and numeric
generators."""
