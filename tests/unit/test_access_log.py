"""The gateway's access log: the tokens of mailed links never reach it."""
from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from gateway.access_log import RedactingLogger, redacted


def test_token_values_are_redacted_wherever_they_stand():
    assert redacted("GET /api/v1/votes/confirm?token=abc.DEF-123 HTTP/1.1") == \
        "GET /api/v1/votes/confirm?token=[redacted] HTTP/1.1"
    assert redacted("a=1&token=x&b=2&link_token=y") == "a=1&token=[redacted]&b=2&link_token=[redacted]"
    assert redacted("TOKEN=x") == "TOKEN=[redacted]"
    assert redacted("page=2&q=tokeny") == "page=2&q=tokeny"
    assert redacted(None) is None


def test_the_logger_gunicorn_is_configured_with_redacts_the_request_line_and_query():
    config = Config()
    config.set("logger_class", "gateway.access_log.RedactingLogger")
    assert config.logger_class is RedactingLogger
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/api/v1/registrations/r1/cancel?token=SECRET",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "token=SECRET", "REMOTE_ADDR": "10.0.0.1",
               "HTTP_REFERER": "https://x.cz/?token=SECRET2"}
    atoms = RedactingLogger(config).atoms(SimpleNamespace(status="200 OK", sent=10, headers=[]), [], environ,
                                          timedelta(milliseconds=5))
    assert "SECRET" not in str(atoms) and atoms["q"] == "token=[redacted]"
