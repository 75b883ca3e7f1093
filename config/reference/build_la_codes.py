"""Rebuild config/la_codes.csv from the DfE C3 table (English LAs) and the Welsh W06 codes."""

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
C3 = HERE / "dfe" / "c3_factors_identified_at_end_of_assessment_2018_to_2025.csv"
LATEST_YEAR = "2025"

# Welsh principal areas (ONS Register of Geographic Codes). W06000007 and W06000017 are not in use.
WALES = [
    ("W06000001", "Isle of Anglesey"), ("W06000002", "Gwynedd"), ("W06000003", "Conwy"),
    ("W06000004", "Denbighshire"), ("W06000005", "Flintshire"), ("W06000006", "Wrexham"),
    ("W06000008", "Ceredigion"), ("W06000009", "Pembrokeshire"), ("W06000010", "Carmarthenshire"),
    ("W06000011", "Swansea"), ("W06000012", "Neath Port Talbot"), ("W06000013", "Bridgend"),
    ("W06000014", "Vale of Glamorgan"), ("W06000015", "Cardiff"), ("W06000016", "Rhondda Cynon Taf"),
    ("W06000018", "Caerphilly"), ("W06000019", "Blaenau Gwent"), ("W06000020", "Torfaen"),
    ("W06000021", "Monmouthshire"), ("W06000022", "Newport"), ("W06000023", "Powys"),
    ("W06000024", "Merthyr Tydfil"),
]


def main() -> None:
    with open(C3, encoding="utf-8", newline="") as handle:
        english = [r for r in csv.DictReader(handle)
                   if r["time_period"] == LATEST_YEAR and r["geographic_level"] == "Local authority"]
    with open(HERE.parent / "la_codes.csv", "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["la_code", "la_name", "country", "region_code", "region_name", "old_la_code"])
        for row in sorted(english, key=lambda r: r["new_la_code"]):
            writer.writerow([row["new_la_code"], row["la_name"], "England", row["region_code"],
                             row["region_name"], row["old_la_code"]])
        for code, name in WALES:
            writer.writerow([code, name, "Wales", "W92000004", "Wales", ""])


if __name__ == "__main__":
    main()
