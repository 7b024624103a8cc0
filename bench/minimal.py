"""The smallest WSGI application: the yardstick the gateway's reads are measured against,
served by gunicorn with the gateway's own settings."""


def app(environ, start_response):
    body = b'{"status":"ok"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
