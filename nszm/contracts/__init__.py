"""Cross-service contracts: bus events, RPC payload schemas and shared error types."""
