"""The pages behind mailed links, in Debian's Chromium with axe-core: each page as it opens, and
the page its button leads to, checked against WCAG 2.1 A and AA.

Run in a process of its own (see `tests/console_browser.py`): `python -m tests.public_browser URL...`.
It prints, as JSON, each page's language and the rules axe-core found broken there.
"""
import json
import sys

from playwright.sync_api import sync_playwright

from tests.console_browser import CHROMIUM, FLAGS, violations


def checked(page) -> dict:
    return {"lang": page.get_attribute("html", "lang"), "violations": violations(page),
            "statement_link": page.locator("footer a[href='/pristupnost']").count() == 1}


def main(urls: list[str]) -> dict:
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(locale="cs-CZ", bypass_csp=True).new_page()
        try:
            for url in urls:
                page.goto(url)
                seen[url] = checked(page)
                button = page.locator("main form button[type=submit]")
                if button.count() == 1:  # a mailed link's page: its button does the action
                    button.click()
                    page.wait_for_load_state()
                    seen[url + " →"] = checked(page)
        finally:
            browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), ensure_ascii=False))
