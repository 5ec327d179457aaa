#!/usr/bin/env python3
"""Generates the retrieval-QA task `handbook`: a fictional freight company's depot handbook and
questions whose answers are only in it (invented place names and numbers, so no model can know
them beforehand). Standard library only; seed 2026; byte-for-byte reproducible.

    python3 scripts/reference/handbook_qa.py crates/understudy-eval/src/tasks/data

writes handbook_docs.jsonl (one document per depot: {"id", "text"}) and handbook_qa.jsonl
(one question per line: {"id", "question", "answer", "source"}).
"""

import json
import random
import sys
from pathlib import Path

SEED = 2026
COMPANY = "Quillmere Freight"
SITES = [
    "Arvenholt", "Brisklow", "Calloway Ridge", "Dunmere", "Esterfall", "Fenwick Cross",
    "Galloran", "Hollinsby", "Ivarsted", "Jorvale", "Kestrel Point", "Lunthorpe",
    "Marrowgate", "Nethercombe", "Orsley", "Pellham Vale", "Quenby", "Rostwick",
    "Saltmarsh End", "Thornaby Wick",
]
REGIONS = ["northern coast", "river valley", "eastern uplands", "southern ports", "western plains"]
MANAGERS = [
    "Ada Kettleworth", "Bram Ostrander", "Celia Vantongeren", "Dmitri Halloway", "Elin Marchbank",
    "Farid Quellen", "Greta Lindqvist", "Hugo Penhaligon", "Isla Radcliffe", "Jonas Wexford",
]
GOODS = ["farm machinery", "medical supplies", "furniture", "electronics", "books and paper",
         "frozen seafood", "garden tools", "textiles"]

# (key, sentence in the handbook, question, value range)
FACTS = [
    ("opened", "The {site} depot opened in {v}.", "In what year did the {site} depot open?", (1952, 2014)),
    ("docks", "It has {v} loading docks.", "How many loading docks does the {site} depot have?", (11, 64)),
    ("staff", "The depot employs {v} people across three shifts.", "How many people work at the {site} depot?", (120, 980)),
    ("door", "The door code of the archive room is {v}.", "What is the door code of the archive room at the {site} depot?", (1000, 9999)),
    ("parcel", "Parcels heavier than {v} kg must go through the freight lane.",
     "Above what weight, in kilograms, must parcels at the {site} depot go through the freight lane?", (23, 75)),
    ("extension", "For an emergency on site, dial extension {v}.",
     "Which phone extension do you dial for an on-site emergency at the {site} depot?", (200, 899)),
    ("parking", "Staff parking has {v} spaces.", "How many staff parking spaces does the {site} depot have?", (40, 350)),
    ("cold", "The cold store holds up to {v} pallets.", "How many pallets can the cold store at the {site} depot hold?", (60, 900)),
]
QUESTIONS_PER_SITE = 4


def slug(site: str) -> str:
    return site.lower().replace(" ", "-")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
    rng = random.Random(SEED)
    docs, questions = [], []
    for site in SITES:
        values = {}
        for key, _, _, (lo, hi) in FACTS:
            v = rng.randint(lo, hi)
            while v in values.values():
                v = rng.randint(lo, hi)
            values[key] = v
        sentences = [s.format(site=site, v=values[k]) for k, s, _, _ in FACTS[1:]]
        rng.shuffle(sentences)
        manager = rng.choice(MANAGERS)
        region, goods = rng.choice(REGIONS), rng.sample(GOODS, 2)
        text = (
            f"# {COMPANY} handbook: the {site} depot\n\n"
            f"The {site} depot opened in {values['opened']} and serves the {region} routes. "
            f"It is run by {manager}, who took over from the founding team. "
            f"Most of its traffic is {goods[0]} and {goods[1]}.\n\n"
            + " ".join(sentences[:4]) + "\n\n"
            + "Visitors sign in at the gatehouse and wear a high-visibility vest on the yard. "
            + " ".join(sentences[4:]) + "\n"
        )
        docs.append({"id": slug(site), "text": text})
        for key, _, question, _ in rng.sample(FACTS, QUESTIONS_PER_SITE):
            questions.append({
                "id": f"{slug(site)}-{key}",
                "question": question.format(site=site),
                "answer": str(values[key]),
                "source": slug(site),
            })
    rng.shuffle(questions)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("handbook_docs.jsonl", docs), ("handbook_qa.jsonl", questions)):
        with open(out / name, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(docs)} documents, {len(questions)} questions in {out}")


if __name__ == "__main__":
    main()
