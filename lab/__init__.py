"""IF-Lab's method: constraints, composition, rewards and model loading (no database, no UI)."""
