"""Running the platform on one machine: launcher, embedded database, demo data."""
