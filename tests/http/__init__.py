"""End-to-end tests over HTTP against the running platform."""
