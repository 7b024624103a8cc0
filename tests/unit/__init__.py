"""Unit tests: pure domain rules and service entrypoints with fake stores."""
