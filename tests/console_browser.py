"""Staff sending a mailout in the console, in Debian's Chromium driven by Playwright.

Run in a process of its own (the test suite's eventlet patching and Playwright's asyncio do not
mix): `python -m tests.console_browser URL TOKEN EVENT_ID RECIPIENT SCREENSHOT_DIR`. It prints
what it saw as JSON for the test to judge, and writes a screenshot of every page it visits.
"""
import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main(url: str, token: str, event_id: str, recipient: str, screenshots: str) -> dict:
    out = Path(screenshots)
    out.mkdir(parents=True, exist_ok=True)
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        # The console's CSP forbids eval; Playwright's own waiting helpers need it.
        page = browser.new_context(viewport={"width": 1100, "height": 900}, bypass_csp=True).new_page()

        def shoot(name):
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)

        page.goto(url + "/staff/")
        seen["sent_to_sign_in"] = page.url.startswith(url + "/staff/login")
        shoot("login")
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        seen["overview_heading"] = page.locator("h1").text_content()
        shoot("overview")
        page.click("text=Hromadné e-maily")
        shoot("mailouts")
        page.click("text=Nový e-mail")
        page.fill("input[name=subject]", "Připomínka semináře")
        page.fill("textarea[name=body]", "Dobrý den, {{ name }},\n\ntěšíme se na **{{ organization }}**.")
        page.select_option("select[name=event]", event_id)
        page.check("input[name=status][value=confirmed]")
        page.wait_for_function("/^[0-9]/.test(document.getElementById('recipient-count').textContent)")
        seen["recipient_count"] = page.locator("#recipient-count").text_content()
        shoot("mailout-compose")
        page.click("form#compose button[type=submit]")
        seen["draft_status"] = page.locator("#status").text_content()
        page.fill("form[method=get] input[name=email]", recipient)
        page.click("form[method=get] button")
        seen["preview"] = page.locator("article.preview").text_content()
        shoot("mailout-draft")
        page.click("button#send")
        page.wait_for_function("document.getElementById('bar').value > 0", timeout=60_000)
        seen["moving"] = page.locator("#percent").text_content()
        shoot("mailout-sending")
        page.wait_for_function("document.getElementById('percent').textContent === '100 %'", timeout=120_000)
        page.wait_for_load_state()
        seen["final_percent"] = page.locator("#percent").text_content()
        seen["final_status"] = page.locator("#status").text_content()
        shoot("mailout-sent")
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:6]), ensure_ascii=False))
