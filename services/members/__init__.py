"""The members service: directory, applications, statistics."""
