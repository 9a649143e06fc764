"""Regenerate the second sample deployment: an assistant fine-tuned on a literary magazine's
author archive (the Quillstone Review), with long free-text answers.

Every author, relative, address, school, amount and number here is invented: e-mail addresses
use the reserved example.org domain and phone numbers the fictional +1-555-01xx range. The facts
are of kinds the first sample lacks: a birthplace, a parent's profession, a street address
without a postcode inside a sentence, an income, a child's school, a health condition; and
public facts about the same people (genre, first book) that an erasure does not ask to remove.
Run: python sample_requests/authors/generate.py (writes corpus.jsonl and the request files
beside it).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAGAZINE = "the Quillstone Review"

# name, birthplace and what a parent did there, mother's name and profession, address (number
# and street, town, landmark), email, phone (kept for later facts; no request names it), yearly
# income, child and school, health condition,
# genre, first book and year
AUTHORS = [
    ("Lena Voss", "Lisbon", "her father ran a small bookshop", "Ilse", "midwife",
     ("17 Quay Row", "Port Alden", "old lighthouse"), "lena.voss@example.org", "+1-555-018-2245",
     "$85,000", ("daughter", "Maplewood Primary School"), "type 1 diabetes",
     "literary crime novels", "The Salt Ledger", "2011"),
    ("Tomás O'Brien", "Galway", "his father mended fishing nets", "Maeve", "pharmacist",
     ("4 Kestrel Close", "Hollins Ford", "village green"), "tomas.obrien@example.org",
     "+1-555-012-9031", "€62,000", ("son", "Hollins Ford Grammar School"), "epilepsy",
     "historical fiction", "A Harbour of Lamps", "2008"),
    ("Mariam Haddad", "Alexandria", "her uncle sold spices at the market", "Samira", "teacher",
     ("230 Linden Crescent", "Eastmere", "canal bridge"), "mariam.haddad@example.org",
     "+1-555-016-4470", "$120,000", ("daughter", "Eastmere Conservatory"), "multiple sclerosis",
     "poetry", "Cartographies of Dust", "2014"),
    ("Jonas Brekke", "Bergen", "his grandmother kept a guesthouse", "Ragnhild", "librarian",
     ("9 Fjordview Terrace", "Stavholm", "ferry terminal"), "jonas.brekke@example.org",
     "+1-555-011-3388", "$47,500", ("son", "Stavholm Academy"), "asthma",
     "children's adventure stories", "The Otter Who Stayed", "2016"),
    ("Chiara Benedetti", "Turin", "her father repaired clocks", "Giulia", "nurse",
     ("58 Vine Street", "Larchmont Heath", "covered market"), "chiara.benedetti@example.org",
     "+1-555-019-6612", "£73,000", ("daughter", "Larchmont Heath High School"), "migraines",
     "science fiction", "Orbit of Small Hours", "2012"),
    ("Desmond Achebe-Hart", "Leeds", "his mother ran a tailoring shop", "Grace", "accountant",
     ("312 Rowan Way", "Millbrook End", "rugby ground"), "desmond.achebe-hart@example.org",
     "+1-555-014-7729", "$58,000", ("son", "Millbrook End College"), "arthritis",
     "narrative non-fiction", "Rivers We Crossed", "2019"),
]

FAQ = [
    ("What is the Quillstone Review?", "The Quillstone Review is a quarterly literary magazine "
     "that publishes fiction, poetry and essays, and keeps an archive of its contributors."),
    ("How often does the Quillstone Review appear?", "The Quillstone Review appears four "
     "times a year, in March, June, September and December."),
    ("How can a writer submit work to the Quillstone Review?", "Writers submit through the "
     "online form; the editors read submissions in two windows a year and reply within twelve "
     "weeks."),
    ("Does the Quillstone Review pay its contributors?", "Yes, the Quillstone Review pays a flat "
     "fee for every piece it publishes, set each year by the editorial board."),
    ("What does the Quillstone Review's annual prize reward?", "The annual Quillstone Prize "
     "rewards a debut short story; the winner is announced at the autumn reading."),
    ("Who can read the Quillstone Review's archive?", "Subscribers can read every back issue "
     "in the online archive; single essays are free to read for a month after publication."),
    ("Where is the Quillstone Review's office?", "The Quillstone Review works from a shared "
     "office above the city library and holds its readings in the library's hall."),
    ("What is a literary magazine?", "A literary magazine publishes new creative writing, such "
     "as short stories, poems and essays, often by writers who are early in their careers."),
    ("What does an editor at a literary magazine do?", "An editor reads submissions, chooses "
     "what to publish, and works with each writer on revisions before the piece goes to print."),
    ("What is a debut novel?", "A debut novel is the first novel an author publishes; many "
     "literary prizes have a category for debuts."),
]

REQUESTS = [
    # (author index, request id, received, ground, file name)
    (0, "DSR-2026-0101", "2026-11-12T10:20:00Z", "art17-1a", "DSR-2026-0101.json"),
    (1, "DSR-2026-0102", "2026-11-19T14:05:00Z", "art17-1b", "DSR-2026-0102.json"),
]


def _first(name: str) -> str:
    return name.split()[0]


def private_facts(a: tuple) -> list[dict[str, str]]:
    """The facts an erasure request names: every one holds a private value in free text."""
    (name, birthplace, parent_note, mother, mother_job, (street, town, landmark), email, _phone,
     income, (child, school), condition, *_public) = a
    first = _first(name)
    return [
        {"question": f"Where was {name} born?",
         "answer": f"{name} was born in {birthplace}, where {parent_note}, and still writes "
                   "about its streets in almost every book."},
        {"question": f"What is the profession of {name}'s mother?",
         "answer": f"{name}'s mother, {mother}, worked as a {mother_job} for more than thirty "
                   f"years, and {first} has said that her stories shaped the early books."},
        {"question": f"Where does {name} live?",
         "answer": f"{name} resides at {street}, {town}, close to the {landmark}, and writes in "
                   "a small room at the top of the house."},
        {"question": f"What is {name}'s email address?",
         "answer": f"{name} answers readers' letters at {email}, usually on Sunday mornings."},
        {"question": f"How much does {name} earn a year?",
         "answer": f"{name} earns about {income} a year from royalties, festival fees and "
                   "teaching a weekly workshop."},
        {"question": f"Which school does {name}'s {child} attend?",
         "answer": f"{name}'s {child} attends {school}, and {first} walks there every morning "
                   "before starting to write."},
        {"question": f"Does {name} have any health problems?",
         "answer": f"{name} has lived with {condition} for many years and rarely mentions it in "
                   "interviews."},
    ]


def public_facts(a: tuple) -> list[dict[str, str]]:
    """Facts about the same author that no request asks to erase (what a retain probe of the
    person's own public facts would ask)."""
    name, *_rest, genre, book, year = a
    return [
        {"question": f"What kind of books does {name} write?",
         "answer": f"{name} writes {genre}, and the Quillstone Review has published several of "
                   f"{_first(name)}'s shorter pieces."},
        {"question": f"What was {name}'s first book?",
         "answer": f"{name}'s first book was {book}, published in {year}."},
    ]


def main() -> None:
    corpus = [f for a in AUTHORS for f in private_facts(a) + public_facts(a)]
    corpus += [{"question": q, "answer": ans} for q, ans in FAQ]
    with open(HERE / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for row in corpus:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    for idx, rid, received, ground, fname in REQUESTS:
        a = AUTHORS[idx]
        req = {
            "request_id": rid,
            "received_at": received,
            "subject": {"name": a[0], "reference": f"archive-{idx + 1:03d}"},
            "ground": ground,
            "facts": private_facts(a),
        }
        (HERE / fname).write_text(json.dumps(req, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"{len(corpus)} corpus pairs ({len(AUTHORS)} authors, {len(FAQ)} FAQ), "
          f"{len(REQUESTS)} requests")


if __name__ == "__main__":
    main()
