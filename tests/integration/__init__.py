"""Integration tests: services and stores against real RabbitMQ and SecantusDB."""
