"""Benchmark a day of an accredited event at the door, on the platform as `make run` starts it:
registrations for two sessions, scans at three doors at once (each person at each session,
and every code scanned a second time), searches by name, the accreditation pack's downloads,
and participants changing their sessions while others register.

    python -m bench.door [--people 150]

It prints figures and checks that the attendance, the certificates and the seat counters are
exactly what the scans and changes made.
"""
import argparse
import random
import sys
import time

import requests

from bench.run import TOKEN, Load, running_platform

DAY = "2031-02-{day:02d}T{hour:02d}:00:00+01:00"
DOORS = 3  # laptops scanning at once


def accredited_event(base: str, staff: dict, capacity: int) -> dict:
    """A published two-day accredited school, a session a day of `capacity` seats."""
    sessions = [{"title": f"Den {day}", "starts_at": DAY.format(day=day, hour=9), "ends_at": DAY.format(day=day, hour=16),
                 "capacity": capacity} for day in (10, 11)]
    event = requests.post(base + "/api/v1/events", headers=staff, timeout=30, json={
        "title": "Škola na zkoušku", "type": "school", "starts_at": sessions[0]["starts_at"],
        "ends_at": sessions[1]["ends_at"], "venue": {"name": "Sál"}, "accredited": True,
        "accreditation": "AK/1", "sessions": sessions,
        "questions": [{"label": "Strava", "type": "single_choice", "options": ["masová", "bezmasá"]}]}).json()
    requests.post(base + f"/api/v1/events/{event['id']}/publish", headers=staff, timeout=30)
    return event


def timed(call) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = call()
    return (time.perf_counter() - started) * 1000, response


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=150)
    args = parser.parse_args()
    people = args.people
    with running_platform() as (base, _, _, _, _):
        if base is None:
            return 1
        staff = {"Authorization": f"Bearer {TOKEN}"}
        event = accredited_event(base, staff, capacity=people)
        crowd = Load(base, concurrency=16)
        receipts: list[dict] = []

        def register(s, i):
            answer = s.post(base + f"/api/v1/events/{event['id']}/registrations", timeout=60, json={
                "name": f"Účastník {i}", "email": f"ucastnik{i}@example.cz", "organization": "Obec",
                "sessions": ["s1", "s2"], "answers": {"q1": "bezmasá"}})
            if answer.status_code == 201:
                receipts.append(answer.json())
            return answer.status_code

        crowd.run("register for 2 sessions", people, register, clients=people)
        scans = [(r["id"], session) for r in receipts for session in ("s1", "s2")] * 2
        random.Random(29).shuffle(scans)
        outcomes: dict[str, int] = {}

        def scan(s, i):
            code, session = scans[i]
            answer = s.post(base + f"/api/v1/events/{event['id']}/sessions/{session}/check-in", headers=staff,
                            timeout=60, json={"code": code})
            outcome = answer.json().get("outcome", str(answer.status_code))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            return answer.status_code

        door = Load(base, concurrency=DOORS).run(f"scans, {DOORS} doors at once", len(scans), scan)
        search = Load(base, concurrency=DOORS).run("search by name", 100, lambda s, i: s.get(
            base + f"/api/v1/events/{event['id']}/sessions/s1/attendees", headers=staff, timeout=60,
            params={"q": f"ucastnik {i}"}).status_code)

        downloads = {name: timed(lambda path=path: requests.get(base + path, headers=staff, timeout=120))
                     for name, path in (("attendance.xlsx", f"/api/v1/events/{event['id']}/attendance.xlsx"),
                                        ("sign-in sheet PDF", f"/api/v1/events/{event['id']}/sessions/s1/sign-in-sheet.pdf"),
                                        ("certificates.xlsx", f"/api/v1/events/{event['id']}/certificates.xlsx"))}

        second = accredited_event(base, staff, capacity=people // 3)
        early: list[dict] = []

        def register_early(s, i):
            answer = s.post(base + f"/api/v1/events/{second['id']}/registrations", timeout=60, json={
                "name": f"Brzký {i}", "email": f"brzky{i}@example.cz", "organization": "Obec", "sessions": ["s1"]})
            early.append(answer.json())
            return answer.status_code

        Load(base, concurrency=8).run("register for day one", people // 2, register_early, clients=people // 2,
                                      block=202)

        def change_or_register(s, i):
            if i % 2 == 0 and i // 2 < len(early):
                mine = early[i // 2]
                token = mine["manage_url"].split("token=", 1)[1]
                return requests.put(base + f"/api/v1/registrations/{mine['id']}/self/sessions", timeout=60,
                                    params={"token": token}, json={"sessions": ["s1", "s2"]}).status_code
            return s.post(base + f"/api/v1/events/{second['id']}/registrations", timeout=60, json={
                "name": f"Pozdní {i}", "email": f"pozdni{i}@example.cz", "organization": "Obec",
                "sessions": ["s2"]}).status_code

        changes = Load(base, concurrency=20).run("change sessions in a rush", people, change_or_register,
                                                 clients=people, block=203)

        sessions = [[person for page in range(1, people // 100 + 2) for person in requests.get(
            base + f"/api/v1/events/{event['id']}/sessions/{s}/attendees", headers=staff, timeout=60,
            params={"per_page": 100, "page": page}).json()["items"]] for s in ("s1", "s2")]
        came = [sum(1 for p in listed if p["checked_in_at"]) for listed in sessions]
        certificates = requests.get(base + f"/api/v1/events/{event['id']}/certificates", headers=staff,
                                    timeout=60).json()
        day_two = requests.get(base + f"/api/v1/events/{second['id']}", timeout=30).json()["sessions"][1]

        print(f"\n{len(receipts)} registered; scans: {outcomes}")
        print(f"  door: {door['rps']:.1f} scans/s at {DOORS} doors, p50 {door['p50_ms']:.0f} ms, "
              f"p99 {door['p99_ms']:.0f} ms (a scanner reads a code in about 300 ms)")
        print(f"  search by name: p50 {search['p50_ms']:.0f} ms, p99 {search['p99_ms']:.0f} ms")
        for name, (ms, answer) in downloads.items():
            print(f"  {name}: {ms:.0f} ms, {len(answer.content) / 1024:.0f} KiB ({len(receipts)} people)")
        print(f"  session changes in a rush: {changes['rps']:.1f} req/s, p99 {changes['p99_ms']:.0f} ms; "
              f"day two of {second['sessions'][1]['capacity']} seats: {day_two['seats_left']} left, "
              f"{day_two['waiting']} waiting")
        consistent = (came == [len(receipts)] * 2 and outcomes.get("checked_in") == 2 * len(receipts)
                      and outcomes.get("already_checked_in") == 2 * len(receipts)
                      and len(certificates) == len(receipts) and day_two["seats_left"] == 0
                      and day_two["waiting"] == people - day_two["capacity"])
        print(f"  attendance s1/s2: {came[0]}/{came[1]}, certificates {len(certificates)}: "
              f"{'exact' if consistent else 'NOT EXACT'}")
        return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
