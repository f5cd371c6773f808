"""Storage: the engine, the shared metadata and the schema check."""
