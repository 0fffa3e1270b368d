"""Background jobs: each kind is a config dataclass + run(config, ctx), run by the worker."""
