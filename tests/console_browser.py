"""A day in the console, in Debian's Chromium driven by Playwright: approve an application, check a
person in, compose and send a mailout and watch it reach 100 %, then open every other page; axe-core
checks every page against WCAG 2.1 A and AA.

Run in a process of its own (the test suite's eventlet patching and Playwright's asyncio do not
mix): `python -m tests.console_browser URL TOKEN APPLICATION_ID EVENT_ID RECIPIENT SCREENSHOT_DIR`.
It prints what it saw as JSON for the test to judge, and writes a screenshot of every page.
"""
import json
import sys
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def violations(page) -> list[str]:
    """What axe-core finds on the page against WCAG 2.1 A and AA: each rule with the elements breaking it."""
    found = Axe().run(page, options=WCAG_21_AA).response["violations"]
    return [f"{v['id']} ({v['impact']}): {' | '.join(' '.join(map(str, n['target'])) for n in v['nodes'])}"
            for v in found]


def main(url: str, token: str, application_id: str, event_id: str, recipient: str, screenshots: str) -> dict:
    out = Path(screenshots)
    out.mkdir(parents=True, exist_ok=True)
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        # The console's CSP forbids eval; Playwright's own waiting helpers need it.
        page = browser.new_context(viewport={"width": 1100, "height": 900}, locale="cs-CZ", bypass_csp=True).new_page()

        def shoot(name):
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            seen.setdefault("violations", {})[name] = violations(page)

        try:
            visit(url, token, page, shoot, seen, application_id, event_id, recipient)
        except Exception:
            page.screenshot(path=str(out / "failure.png"), full_page=True)  # what the browser showed when a step failed
            raise
        finally:
            browser.close()
    return seen


def visit(url, token, page, shoot, seen, application_id, event_id, recipient):
    """The steps, in the order a member of staff would take them."""
    page.goto(url + "/staff/")
    seen["sent_to_sign_in"] = page.url.startswith(url + "/staff/login")
    shoot("login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    seen["overview_heading"] = page.locator("h1").text_content()
    shoot("overview")
    page.click("nav >> text=Přihlášky")
    shoot("applications")
    page.click(f"a[href='/staff/applications/{application_id}']")
    shoot("application")
    page.click("button#approve")
    seen["application_status"] = page.locator("#status").text_content()
    seen["approval_notice"] = page.locator("p.notice").text_content()
    shoot("application-approved")
    page.click("dd a")
    seen["member_heading"] = page.locator("h1").text_content()
    shoot("member")
    page.click("nav >> text=Členové")
    shoot("members")

    page.click("nav >> text=Akce")
    shoot("events")
    page.click(f"a[href='/staff/events/{event_id}']")
    row = page.locator(f"tr[data-email='{recipient}']")
    row.locator("button", has_text="Přišel/přišla").click()
    seen["check_in_notice"] = page.locator("p.notice").text_content()
    seen["attendance"] = page.locator(f"tr[data-email='{recipient}'] td.attendance").text_content()
    shoot("event")
    page.goto(url + "/staff/events/new")
    shoot("event-new")

    page.click("nav >> text=Hromadné e-maily")
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
    # the last message counts before the mailout is marked finished (at notify's next tick); the
    # page reloads once it is, and the status rendered then is the one the server holds
    page.wait_for_function("!['scheduled', 'sending'].includes(document.getElementById('status').dataset.code)",
                           timeout=30_000)
    page.wait_for_load_state()
    seen["final_percent"] = page.locator("#percent").text_content()
    seen["final_status"] = page.locator("#status").text_content()
    shoot("mailout-sent")

    for section, name in (("Dobrá praxe", "practices"), ("NEJpraxe", "competitions"),
                          ("Fronta e-mailů", "mail-queue"), ("Blokované adresy", "suppressions"), ("Import", "imports"),
                          ("Tokeny", "tokens"), ("Osobní údaje", "privacy")):
        page.click(f"nav >> text={section}")
        shoot(name)
    page.goto(url + "/staff/practices/new")
    shoot("practice-new")
    page.goto(url + "/staff/competitions/new")
    shoot("competition-new")
    page.goto(url + "/staff/practices")
    page.locator("tbody a").first.click()
    shoot("practice")
    page.goto(url + "/staff/competitions")
    page.locator("tbody a").first.click()
    shoot("competition")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:7]), ensure_ascii=False))
