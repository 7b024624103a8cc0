"""SMTP servers with the manners the mailer must cope with, for tests (aiosmtpd):

    python -m tests.smtp_tls_server MODE PORT DIRECTORY [CERT KEY]

MODE is one of
- `starttls-auth`: offers STARTTLS and AUTH only over TLS (the password is checked: user/secret);
- `plain-auth`: offers AUTH without any TLS (a mailer with credentials must refuse to use it);
- `smtps`: TLS from the first byte (implicit TLS, as smtps://);
- `quit-421`: accepts every message, then answers QUIT with 421 and hangs up.
Each accepted message is a file in DIRECTORY; `auth.log` records every AUTH attempt and
whether it came over TLS.
"""
import signal
import ssl
import sys
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Storing:
    def __init__(self, directory: Path):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        (self.directory / f"{uuid.uuid4().hex}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 2.0.0 OK"


class QuitWith421(SMTP):
    async def smtp_QUIT(self, arg):
        await self.push("421 4.3.2 Shutting down, try again")
        self._handler_coroutine.cancel()
        self.transport.close()


def main():
    mode, port, directory = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    directory.mkdir(parents=True, exist_ok=True)
    context = None
    if len(sys.argv) > 5:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[4], sys.argv[5])
    auth_log = directory / "auth.log"

    def authenticator(server, session, envelope, mechanism, auth_data):
        over_tls = session.ssl is not None
        with auth_log.open("a") as log:
            log.write(f"{mechanism} tls={over_tls}\n")
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"user" and auth_data.password == b"secret"
        return AuthResult(success=ok)

    options = {"hostname": "127.0.0.1", "port": port}
    if mode == "starttls-auth":
        controller = Controller(Storing(directory), tls_context=context, require_starttls=True,
                                authenticator=authenticator, auth_require_tls=True, **options)
    elif mode == "plain-auth":
        controller = Controller(Storing(directory), authenticator=authenticator, auth_require_tls=False, **options)
    elif mode == "smtps":
        controller = Controller(Storing(directory), ssl_context=context, **options)
    elif mode == "quit-421":
        class Quitting(Controller):
            def factory(self):
                return QuitWith421(self.handler, **self.SMTP_kwargs)

        controller = Quitting(Storing(directory), **options)
    else:
        sys.exit(f"unknown mode {mode}")
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
