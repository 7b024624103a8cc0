"""What the staff commands share: the staff API over HTTP with a token, and how a command ends.

The token comes from --token or NSZM_TOKEN; the gateway's address from --url, else
PUBLIC_URL, else http://127.0.0.1:8000. Exit status: 0 done, 1 the platform is unreachable
(or the work ended badly), 2 refused (the problem's detail is printed).
"""
import argparse
import os
import sys

import requests

from nszm.config import Settings


class Refused(Exception):
    """The API answered with a problem (4xx)."""


class StaffApi:
    def __init__(self, url: str, token: str, base: str):
        self.url = f"{url.rstrip('/')}{base}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept-Language"] = "en"  # the commands speak English; so do the API's messages to them

    def call(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.url}{path}", timeout=150, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            fields = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in problem.get("errors", {}).items())
            raise Refused(f"{response.status_code} {problem.get('detail', '')}" + (f" ({fields})" if fields else ""))
        return response.json()


def command_parser(prog: str, description: str) -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog=prog, description=description,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--url", default=None)
    main.add_argument("--token", default=os.environ.get("NSZM_TOKEN"))
    return main


def run_command(args, base: str, run, interrupted: str = "stopped") -> int:
    """`run(args, api)` with the staff API at `base`; its exit status, or the one its failure earns."""
    if not args.token:
        sys.stderr.write("A staff token is needed: --token or NSZM_TOKEN.\n")
        return 2
    try:
        return run(args, StaffApi(args.url or Settings.from_env().public_url, args.token, base))
    except Refused as refusal:
        sys.stderr.write(f"refused: {refusal}\n")
        return 2
    except requests.RequestException as error:
        sys.stderr.write(f"the platform did not answer: {error}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{interrupted}\n")
        return 1
