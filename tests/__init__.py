"""The platform's tests: unit, integration (real RabbitMQ and SecantusDB) and HTTP."""
