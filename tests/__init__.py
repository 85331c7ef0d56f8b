"""xalign's tests: one folder per package of ``align_cli`` (io, stages, model, aligners,
tools, cli, serve, training, jobs); shared helpers and fixtures here."""
