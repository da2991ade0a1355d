"""Results in the formats other tools read."""
