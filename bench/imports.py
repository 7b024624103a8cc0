"""Benchmark imports as staff run them: a members' CSV and a subscribers' XLSX of growing size,
each checked (dry run), imported with the check's plan, and checked again (all unchanged), over
HTTP against the platform as `make run` starts it. Printed: seconds and rows per second of each
step, and the gateway's and the services' resident memory after the largest import.

    python -m bench.imports [--rows 1000 5000]
"""
import argparse
import io
import random
import time

import requests
from openpyxl import Workbook

from bench.run import TOKEN, rss_by_process, running_platform, valid_ico

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def members_csv(rows: int, start: int) -> bytes:
    """`rows` rows: a new member on every other row, its second contact on the next."""
    lines = ["IČO;Název;Typ;Kraj;Počet obyvatel;Jméno kontaktu;E-mail kontaktu;Role;Funkce"]
    for n in range(rows // 2):
        ico = valid_ico(start + n)
        lines.append(f"{ico};Obec {start + n};obec;Vysočina;{1000 + n};Koordinátorka {n};k{start + n}@obec.example.cz;"
                     "koordinátorka;")
        lines.append(f"{ico};;;;;Starosta {n};s{start + n}@obec.example.cz;politik;starosta")
    return "\r\n".join(lines).encode("cp1250")


def subscribers_xlsx(rows: int, start: int) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["E-mail", "Jméno", "Souhlas udělen"])
    for n in range(rows):
        sheet.append([f"odberatel{start + n}@example.cz", f"Odběratel {n}", "1. 3. 2024"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def timed(base: str, kind: str, data: bytes, media_type: str, **params) -> tuple[float, dict]:
    began = time.perf_counter()
    answer = requests.post(f"{base}/api/v1/imports/{kind}", data=data, params=params, timeout=600,
                           headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": media_type})
    answer.raise_for_status()
    return time.perf_counter() - began, answer.json()


def measure(base: str, kind: str, data: bytes, media_type: str, rows: int, **params) -> None:
    checked_in, checked = timed(base, kind, data, media_type, **params)
    imported_in, imported = timed(base, kind, data, media_type, dry_run="false", plan=checked["plan"], **params)
    again_in, again = timed(base, kind, data, media_type, **params)
    assert imported["imported"] and not imported["errors"], imported["counts"]
    assert set(again["counts"]) == {"unchanged", "errors"}, again["counts"]
    print(f"{kind:<12}{rows:>6} rows ({len(data) / 1024:6.0f} KiB): check {checked_in:6.2f} s "
          f"({rows / checked_in:6.0f} rows/s), import {imported_in:6.2f} s ({rows / imported_in:6.0f} rows/s), "
          f"check again {again_in:6.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args()
    with running_platform() as (base, env, data_dir, marker_key, marker):
        if base is None:
            return 1
        start = random.randrange(0, 900_000)
        for rows in args.rows:
            measure(base, "members", members_csv(rows, start), CSV, rows)
            measure(base, "subscribers", subscribers_xlsx(rows, start), XLSX, rows, source="bench")
            start += rows
        memory = rss_by_process(marker)
        print("resident memory after the imports: " + ", ".join(f"{name} {kib / 1024:.0f} MiB"
                                                                for name, kib in sorted(memory.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
