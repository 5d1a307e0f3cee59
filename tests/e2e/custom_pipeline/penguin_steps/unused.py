"""Nothing imports this module: editing it must not re-run anything."""

NOTE = "unrelated"
