"""Running the platform on one machine: launcher, embedded database, demo data."""


def say(message: str):
    """A line of `make run`'s own output, told apart from the processes' logs."""
    print(f"[nszm] {message}", flush=True)
