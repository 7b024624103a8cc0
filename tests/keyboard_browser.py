"""The main flows by keyboard alone, in Debian's Chromium: sign in to the console, approve an
application, send a mailout, and cancel a registration from its mailed link. Only Tab, typing and
Enter; every control reached shows where the focus is.

Run in a process of its own (see `tests/console_browser.py`):
`python -m tests.keyboard_browser URL TOKEN APPLICATION_ID MAILOUT_ID CANCEL_URL`. It prints what it
saw as JSON.
"""
import json
import sys

from playwright.sync_api import sync_playwright

from tests.console_browser import CHROMIUM, FLAGS

MOST_TABS = 80  # a control further than this from the top of its page is not reachable in practice


def tab_to(page, selector: str) -> dict:
    """Press Tab until the focus is on `selector`; how many presses it took and whether the focus showed."""
    for presses in range(1, MOST_TABS + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            return {"presses": presses, "focus_shows": outline not in ("none", "")}
    raise AssertionError(f"{selector} is not reachable by Tab on {page.url}")


def main(url: str, token: str, application_id: str, mailout_id: str, cancel_url: str) -> dict:
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(locale="cs-CZ").new_page()
        try:
            page.goto(url + "/staff/login")
            seen["token_field"] = tab_to(page, "input[name=token]")
            page.keyboard.type(token)
            page.keyboard.press("Enter")
            page.wait_for_load_state()
            seen["signed_in"] = page.locator("h1").text_content()

            page.goto(f"{url}/staff/applications/{application_id}")
            seen["approve"] = tab_to(page, "button#approve")
            page.keyboard.press("Enter")
            page.wait_for_load_state()
            seen["application_status"] = page.locator("#status").text_content()

            page.goto(f"{url}/staff/mailouts/{mailout_id}")
            seen["send"] = tab_to(page, "button#send")
            page.keyboard.press("Enter")
            page.wait_for_load_state()
            seen["mailout_status"] = page.locator("#status").get_attribute("data-code")

            page.goto(cancel_url)
            seen["cancel"] = tab_to(page, "main form button[type=submit]")
            page.keyboard.press("Enter")
            page.wait_for_load_state()
            seen["cancelled"] = page.locator("h1").text_content()
        finally:
            browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:6]), ensure_ascii=False))
