"""Imports over HTTP and from the terminal against the running platform: members with contacts and
newsletter subscribers from CSV and XLSX, the check first, exactly the broken rows reported, the
rest imported once; suppressed addresses stay suppressed; unconsented addresses are asked first."""
import io
import random
import subprocess
import sys
import uuid

from openpyxl import Workbook

from tests import factories
from tests.conftest import ROOT
from tests.http.conftest import STAFF_TOKEN, Client, issue_token
from tests.http.test_members_api import assert_problem
from tests.waiting import wait_until

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEMBER_HEADER = ["IČO", "Název", "Typ", "Kraj", "Počet obyvatel", "Jméno kontaktu", "E-mail kontaktu", "Role",
                 "Funkce", "Poznámka"]


def csv_file(header: list, rows: list[list], encoding: str = "cp1250") -> bytes:
    """A semicolon-separated CSV, as Czech Excel saves it."""
    lines = [";".join(header)] + [";".join("" if cell is None else str(cell) for cell in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_file(header: list, rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def post_import(client: Client, kind: str, data: bytes, media_type: str, language: str = "cs", **params):
    return client.post(f"/api/v1/imports/{kind}", data=data, params=params, timeout=150,
                       headers={"Content-Type": media_type, "Accept-Language": language})


def members_with_broken_rows(word: str, domain: str) -> tuple[list[list], list[int]]:
    """1,000 rows: 490 new members with two contacts each, and 20 broken rows among them."""
    base = random.randrange(0, 900_000)
    rows: list[list] = []
    for n in range(490):
        ico = factories.ico(f"0{base + n:06d}")  # a leading zero: no other test's IČO
        name, region = f"{word} Obec {n}", "Vysočina"
        rows.append([ico, name, "obec", region, 1000 + n, f"Koordinátorka {n}", f"koord{n}@{domain}", "koordinátorka",
                     None, "poznámka se nenahrává"])
        rows.append([ico, None, None, None, None, f"Starosta {n}", f"starosta{n}@{domain}", "politik", "starosta",
                     None])
    broken = [
        *[[factories.ico(f"0{base + 490 + n:06d}")[:7] + "0" if factories.ico(f"0{base + 490 + n:06d}")[7] != "0"
           else factories.ico(f"0{base + 490 + n:06d}")[:7] + "1", f"{word} Špatné IČO {n}", "obec", "Vysočina", 100,
           None, None, None, None, None] for n in range(5)],
        *[[factories.ico(f"0{base + 500 + n:06d}"), f"{word} Vesnice {n}", "vesnice", "Vysočina", 100, None, None,
           None, None, None] for n in range(3)],
        *[[factories.ico(f"0{base + 510 + n:06d}"), f"{word} Adresa {n}", "obec", "Vysočina", 100, "Jana",
           f"jana{n}@", None, None, None] for n in range(3)],
        *[[factories.ico(f"0{base + 520 + n:06d}"), None, "obec", "Vysočina", 100, None, None, None, None, None]
          for n in range(3)],
        *[[factories.ico(f"0{base + 530 + n:06d}"), f"{word} Záporná {n}", "obec", "Vysočina", -5, None, None, None,
           None, None] for n in range(2)],
        *[[rows[2 * n][0], f"{word} Jiný název {n}", None, None, None, None, None, None, None, None] for n in range(2)],
        *[[factories.ico(f"0{base + 540 + n:06d}"), f"{word} Atlantida {n}", "obec", "Atlantida", 100, None, None,
           None, None, None] for n in range(2)],
    ]
    assert len(broken) == 20
    spots = sorted(random.sample(range(10, 1000), 20))  # after the rows the contradicting ones contradict
    table: list[list] = []
    good, bad = iter(rows), iter(broken)
    broken_lines = []
    for index in range(1000):
        if index in spots:
            table.append(next(bad))
            broken_lines.append(index + 2)
        else:
            table.append(next(good))
    return table, broken_lines


def test_a_thousand_members_rows_with_twenty_broken_are_checked_then_imported(platform, staff, public):
    word, domain = factories.unique_word(), f"{uuid.uuid4().hex[:8]}.example.cz"
    table, broken_lines = members_with_broken_rows(word, domain)
    data = csv_file(MEMBER_HEADER, table)

    checked = post_import(staff, "members", data, CSV)
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert sorted({error["line"] for error in report["errors"]}) == broken_lines
    assert report["counts"] == {"create": 490, "errors": 20} and report["imported"] is False
    assert report["ignored_columns"] == ["Poznámka"]
    assert {error["column"] for error in report["errors"]} <= set(MEMBER_HEADER)
    assert public.get("/api/v1/members", params={"q": word}).json()["total"] == 0  # a check writes nothing

    done = post_import(staff, "members", data, CSV, dry_run="false", plan=report["plan"])
    assert done.status_code == 200, done.text
    assert done.json()["imported"] is True and done.json()["counts"] == report["counts"]
    assert public.get("/api/v1/members", params={"q": f"{word} Obec"}).json()["total"] == 490
    listed = public.get("/api/v1/members", params={"q": f"{word} Obec 7", "per_page": 100}).json()
    one = next(m for m in listed["items"] if m["name"] == f"{word} Obec 7")
    detail = staff.get(f"/api/v1/members/{one['slug']}/detail").json()
    assert detail["type"] == "municipality" and detail["region"] == "Kraj Vysočina" and detail["population"] == 1007
    assert [(c["role"], c["email"], c.get("function")) for c in detail["contacts"]] == [
        ("coordinator", f"koord7@{domain}", None), ("politician", f"starosta7@{domain}", "starosta")]

    again = post_import(staff, "members", data, CSV).json()
    assert again["counts"] == {"unchanged": 490, "errors": 20}
    assert_problem(post_import(staff, "members", data, CSV, dry_run="false", plan=report["plan"]), 409)


def test_members_from_xlsx_update_by_ico_and_flag_suppressed_contacts(platform, staff, public):
    word, domain = factories.unique_word(), f"{uuid.uuid4().hex[:8]}.example.cz"
    application = factories.application(name=f"{word} Kroměříž", contact={"name": "Jana", "email": f"jana@{domain}"})
    receipt = public.post("/api/v1/membership-applications", json=application).json()
    member = staff.post(f"/api/v1/membership-applications/{receipt['id']}/approve").json()
    _, hook = issue_token(platform, "bounces")
    bounced = Client(platform.url, hook).post("/api/v1/bounces", json={"type": "complaint", "email": f"petr@{domain}"})
    assert bounced.status_code == 200, bounced.text

    data = xlsx_file(["IČ", "Obyvatel", "Kontakt", "Email", "Role kontaktu"], [
        [int(member["ico"]), 30000, "Jana Nová", f"JANA@{domain}", "koordinátor"],
        [int(member["ico"]), None, "Petr", f"petr@{domain}", "jiná"]])
    report = post_import(staff, "members", data, XLSX, dry_run="false").json()
    [change] = report["changes"]
    assert (change["action"], change["slug"]) == ("update", member["slug"])
    assert change["fields_changed"] == [{"field": "population", "before": member["population"], "after": 30000}]
    assert report["suppressed"] == [{"email": f"petr@{domain}", "reason": "complained"}]
    detail = staff.get(f"/api/v1/members/{member['slug']}/detail").json()
    assert [c["name"] for c in detail["contacts"]] == ["Jana Nová", "Petr"] and detail["population"] == 30000
    listed = staff.get("/api/v1/suppressions", params={"q": f"petr@{domain}"}).json()["items"]
    assert [entry["reason"] for entry in listed] == ["complained"]  # the import lifted nothing


def test_a_thousand_subscriber_rows_with_twenty_broken_are_checked_exactly(platform, staff):
    """A check only: imported, 960 consented addresses would join every newsletter mailout that
    other tests send on this platform."""
    domain = f"{uuid.uuid4().hex[:8]}.example.cz"
    rows = ([[f"souhlas{n}@{domain}", f"Souhlasící {n}", "2. 5. 2024"] for n in range(960)]
            + [[f"zeptat{n}@{domain}", None, None] for n in range(19)] + [[f"SOUHLAS1@{domain}", None, None]]
            + [[f"spatna{n}", None, None] for n in range(12)] + [[f"budouci{n}@{domain}", None, "1. 1. 2999"]
                                                                 for n in range(4)]
            + [[f"datum{n}@{domain}", None, "včera"] for n in range(4)])
    order = list(range(len(rows)))
    random.shuffle(order)
    broken_lines = sorted(2 + place for place, n in enumerate(order) if n >= 980)
    data = xlsx_file(["E-mail", "Jméno", "Souhlas udělen"], [rows[n] for n in order])
    assert_problem(post_import(staff, "subscribers", data, XLSX), 422, "source")
    report = post_import(staff, "subscribers", data, XLSX, source="Konference").json()
    assert sorted({error["line"] for error in report["errors"]}) == broken_lines
    assert report["counts"] == {"subscribe": 960, "confirm": 19, "errors": 20}
    merged = next(change for change in report["changes"] if change["key"].lower() == f"souhlas1@{domain}")
    assert merged["action"] == "subscribe" and len(merged["lines"]) == 2


def test_subscribers_with_consent_subscribe_the_rest_are_asked_and_suppressed_stay_out(platform, staff, smtp_sink):
    domain, source = f"{uuid.uuid4().hex[:8]}.example.cz", "Konference Zdravých měst 2025"
    _, hook = issue_token(platform, "bounces")
    Client(platform.url, hook).post("/api/v1/bounces", json={"type": "bounce", "email": f"mrtva@{domain}",
                                                             "status": "5.1.1"})
    data = csv_file(["E-mail", "Jméno", "Souhlas udělen"], [
        [f"souhlas@{domain}", "Souhlasící", "2. 5. 2024"], [f"zeptat1@{domain}", None, None],
        [f"zeptat2@{domain}", "Zeptaná", None], [f"mrtva@{domain}", "Mrtvá", "1. 1. 2024"],
        [f"ZEPTAT1@{domain}", None, None], ["spatna", None, None]], encoding="utf-8-sig")
    audience_before = staff.post("/api/v1/mailouts/audience-count", json={"newsletter": True}).json()["recipients"]

    report = post_import(staff, "subscribers", data, CSV, source=source).json()
    assert [error["line"] for error in report["errors"]] == [7]
    [wrong] = report["errors"]
    assert (wrong["column"], wrong["messages"], wrong["codes"]) == ("E-mail", ["Neplatná e-mailová adresa."],
                                                                    ["invalid_email"])
    in_english = post_import(staff, "subscribers", data, CSV, language="en", source=source).json()["errors"]
    assert (in_english[0]["messages"], in_english[0]["codes"]) == (["Not a valid email address."], ["invalid_email"])
    assert report["counts"] == {"subscribe": 1, "confirm": 2, "suppressed": 1, "errors": 1}
    done = post_import(staff, "subscribers", data, CSV, source=source, dry_run="false", plan=report["plan"]).json()
    assert done["imported"] and done["counts"] == report["counts"]

    audience = staff.post("/api/v1/mailouts/audience-count", json={"newsletter": True}).json()["recipients"]
    assert audience - audience_before == 1  # neither the asked nor the suppressed
    [asked] = wait_until(lambda: smtp_sink.messages(to=f"zeptat2@{domain}"), message="the confirmation request")
    assert source in asked.get_content() and asked["Return-Path"].startswith("<bounces+")
    assert len(wait_until(lambda: smtp_sink.messages(to=f"zeptat1@{domain}"), message="one request")) == 1
    assert smtp_sink.messages(to=f"mrtva@{domain}") == [] and smtp_sink.messages(to=f"souhlas@{domain}") == []
    token = asked.get_content().split("confirm?token=")[1].split()[0]
    assert Client(platform.url).post("/api/v1/newsletter/confirm", params={"token": token}).status_code == 200
    audience = staff.post("/api/v1/mailouts/audience-count", json={"newsletter": True}).json()["recipients"]
    assert audience - audience_before == 2
    export = staff.post("/api/v1/privacy/exports", json={"email": f"zeptat2@{domain}"}).json()
    [subscription] = next(part["sections"]["subscriptions"] for part in export["services"] if part["service"] == "notify")
    assert subscription["source"]["name"] == source and subscription["consent"]["form"] == "newsletter_import_confirmation"


def test_files_that_cannot_be_read_are_refused_whole(platform, staff):
    assert_problem(post_import(staff, "members", b"%PDF-1.4 ...", "application/pdf"), 415)
    assert_problem(post_import(staff, "members", b"PK\x03\x04 not a workbook", XLSX), 422, "file")
    assert_problem(post_import(staff, "members", csv_file(["Název", "Kraj"], [["Aš", "Karlovarský"]]), CSV), 422,
                   "file")
    assert_problem(post_import(staff, "members", csv_file(MEMBER_HEADER, []), CSV), 422, "file")
    assert_problem(post_import(staff, "members", b"\x81\x8d\x8f" * 10, CSV), 422, "file")
    only_mailouts = Client(platform.url, issue_token(platform, "mailouts")[1])
    assert_problem(post_import(only_mailouts, "members", csv_file(MEMBER_HEADER, [[factories.ico()]]), CSV), 403)


def cli(platform, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.importer", "--url", platform.url, "--token", STAFF_TOKEN,
                           *args], cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=200)


def test_the_terminal_checks_then_imports(platform, public, tmp_path):
    word, domain = factories.unique_word(), f"{uuid.uuid4().hex[:8]}.example.cz"
    path = tmp_path / "clenove.csv"
    path.write_bytes(csv_file(MEMBER_HEADER, [
        [factories.ico(), f"{word} Telč", "město", "Vysočina", 5000, "Eva", f"eva@{domain}", None, None, None],
        ["1234", f"{word} Nic", "město", "Vysočina", 5000, None, None, None, None, None]], encoding="utf-8-sig"))
    checked = cli(platform, "members", str(path))
    assert checked.returncode == 0, checked.stderr
    assert "line 3: IČO: Not a valid IČO" in checked.stdout and "checked, nothing written" in checked.stdout
    assert public.get("/api/v1/members", params={"q": word}).json()["total"] == 0
    applied = cli(platform, "members", str(path), "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "imported: create 1, errors 1" in applied.stdout
    assert public.get("/api/v1/members", params={"q": word}).json()["total"] == 1
    refused = cli(platform, "subscribers", str(path), "--source", "x")
    assert refused.returncode == 2 and "E-mail" in refused.stderr
