"""The door of a session in Debian's Chromium, by keyboard only, as staff use it with a scanner
that types the QR code and presses Enter: sign in, scan, scan again, scan someone without a seat,
find a person by name and check them in, all without a mouse.

Run in a process of its own (see `tests/console_browser.py`):
`python -m tests.door_browser URL TOKEN EVENT_ID SESSION_ID CODES_JSON SCREENSHOT_DIR`, where
CODES_JSON holds the registration ids `seated`, `czech_keyboard`, `elsewhere` and the `surname`
to search for. It prints what it saw as JSON for the test to judge.
"""
import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.console_browser import CHROMIUM, FLAGS

US_TO_CZECH_DIGITS = str.maketrans("1234567890", "+ěščřžýáíé")  # a US scanner on a Czech keyboard layout


def main(url: str, token: str, event_id: str, session_id: str, codes: str, screenshots: str) -> dict:
    people = json.loads(codes)
    out = Path(screenshots)
    out.mkdir(parents=True, exist_ok=True)
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="cs-CZ").new_page()
        keys = page.keyboard

        def focused() -> str:
            return page.evaluate("document.activeElement && (document.activeElement.id || document.activeElement.name"
                                 " || document.activeElement.tagName)")

        def scan(code: str, name: str) -> dict:
            """The scanner types the code and Enter; the page answers and the focus is back."""
            with page.expect_navigation():
                keys.type(code)
                keys.press("Enter")
            page.screenshot(path=str(out / f"door-{name}.png"), full_page=True)
            box = page.locator("#result .scan")
            return {"tone": box.get_attribute("class"), "text": " ".join(box.inner_text().split()),
                    "focus": focused()}

        try:
            page.goto(url + "/staff/login")
            while focused() != "token":
                keys.press("Tab")
            keys.type(token)
            with page.expect_navigation():
                keys.press("Enter")
            page.goto(f"{url}/staff/events/{event_id}/door/{session_id}")
            seen["focus_on_arrival"] = focused()
            seen["first"] = scan(people["seated"], "first")
            seen["again"] = scan(people["seated"].upper(), "again")
            seen["czech_keyboard"] = scan(people["czech_keyboard"].translate(US_TO_CZECH_DIGITS), "czech-keyboard")
            seen["elsewhere"] = scan(people["elsewhere"], "elsewhere")
            seen["unknown"] = scan("ffff0000", "unknown")
            while focused() != "q":
                keys.press("Tab")
            keys.type(people["surname"])
            with page.expect_navigation():
                keys.press("Enter")
            for _ in range(10):
                keys.press("Tab")
                if page.evaluate("document.activeElement.closest('#found') !== null"):
                    break
            seen["found_button"] = " ".join(page.evaluate("document.activeElement.textContent").split())
            with page.expect_navigation():
                keys.press("Enter")
            box = page.locator("#result .scan")
            seen["by_name"] = {"tone": box.get_attribute("class"), "text": " ".join(box.inner_text().split()),
                               "focus": focused()}
            seen["presence"] = page.locator("#presence").inner_text()
            page.screenshot(path=str(out / "door-by-name.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(out / "door-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:7]), ensure_ascii=False))
