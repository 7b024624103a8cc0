"""The newsletter's double opt-in, unsubscribing, and the list of people who get no bulk mail."""
