#!/usr/bin/env python3
"""Generates watchlist_eval.json, the test list for watchlist screening's precision and
recall (server/tests/it/watchlist_eval.rs reads it; it needs nothing else).

Needs Faker (PyPI `faker`, tested with 40.63.0); run once, the output is committed:

    python3 -m venv /tmp/fakervenv && /tmp/fakervenv/bin/pip install faker
    /tmp/fakervenv/bin/python server/tests/data/make_watchlist_eval.py \
        > server/tests/data/watchlist_eval.json

Listed names come from Faker's name lists of several locales (Latin with accents,
Cyrillic, Greek); each gets true variants: case changed, accents dropped, transliterated
by a scheme other than the server's (ICAO-like, as in a passport), word order swapped
(with a comma), a phonetic misspelling, and for some an alias. Controls are other names
from the same locales (so they share many first names and surnames with the list), none
equal to a listed name once normalised.
"""

import json
import random
import unicodedata

from faker import Faker

SEED = 13
PER_LOCALE = 16
CONTROLS_PER_LOCALE = 16
LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL", "cs_CZ",
           "hu_HU", "tr_TR", "pt_BR", "sv_SE", "ru_RU", "uk_UA", "el_GR"]

# Passport-style transliteration (ICAO 9303 for Cyrillic, ELOT 743 for Greek, simplified):
# deliberately not the scheme the server uses, so transliterated variants test matching.
CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ", [
    "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p",
    "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "ie", "y", "", "e", "iu", "ia",
    "i", "i", "ie", "g"]))
GREEK = dict(zip("αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώϊϋΐΰ", [
    "a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o", "p", "r",
    "s", "s", "t", "y", "f", "ch", "ps", "o", "a", "e", "i", "i", "o", "y", "o", "i", "y",
    "i", "y"]))


def translit(name):
    out = []
    for ch in name:
        low = ch.lower()
        table = CYRILLIC if low in CYRILLIC else GREEK if low in GREEK else None
        if table is None:
            out.append(ch)
            continue
        t = table[low]
        out.append(t.capitalize() if ch != low else t)
    return "".join(out)


def strip_accents(name):
    return "".join(c for c in unicodedata.normalize("NFKD", name)
                   if not unicodedata.combining(c))


# Spelling changes that keep the sound, tried in order; the first that applies is used.
MISSPELLINGS = [("ph", "f"), ("ck", "k"), ("th", "t"), ("y", "i"), ("i", "y"),
                ("ou", "u"), ("ss", "s"), ("ll", "l"), ("tt", "t"), ("nn", "n"),
                ("c", "k"), ("k", "c"), ("z", "s"), ("s", "z"), ("w", "v"), ("v", "w"),
                ("ie", "y"), ("ei", "ai"), ("ae", "e"), ("oe", "o")]


def misspell(name, rng):
    words = name.split()
    order = list(range(len(words)))
    rng.shuffle(order)
    for i in order:
        w = words[i]
        for a, b in MISSPELLINGS:
            pos = w.lower().find(a, 1)
            if pos > 0:
                words[i] = w[:pos] + b + w[pos + len(a):]
                return " ".join(words)
    # No rule applied: double the last consonant of the longest word.
    i = max(range(len(words)), key=lambda j: len(words[j]))
    words[i] = words[i] + words[i][-1]
    return " ".join(words)


def key(name):
    # A rough normalisation to keep controls distinct from listed names.
    return " ".join(sorted(translit(strip_accents(name)).lower().replace(",", " ").split()))


def main():
    rng = random.Random(SEED)
    Faker.seed(SEED)
    listed, variants, controls, seen = [], [], [], set()
    for locale in LOCALES:
        fake = Faker(locale)
        added = 0
        while added < PER_LOCALE:
            name = f"{fake.first_name()} {fake.last_name()}"
            if key(name) in seen:
                continue
            seen.add(key(name))
            entry = {"name": name, "aliases": [], "locale": locale}
            index = len(listed)
            listed.append(entry)
            added += 1
            first, last = name.split(" ", 1)
            variants.append({"name": name.upper(), "of": index, "kind": "case"})
            plain = strip_accents(name)
            if plain != name:
                variants.append({"name": plain.lower(), "of": index, "kind": "accents"})
            if translit(name) != name:
                variants.append({"name": translit(name), "of": index, "kind": "translit"})
            variants.append({"name": f"{last}, {first}", "of": index, "kind": "order"})
            variants.append({"name": misspell(translit(plain), rng), "of": index,
                             "kind": "phonetic"})
            if index % 4 == 0:
                alias = f"{fake.first_name()} {fake.last_name()}"
                seen.add(key(alias))
                entry["aliases"].append(alias)
                variants.append({"name": alias.lower(), "of": index, "kind": "alias"})
    for locale in LOCALES:
        fake = Faker(locale)
        added = 0
        while added < CONTROLS_PER_LOCALE:
            name = f"{fake.first_name()} {fake.last_name()}"
            if key(name) in seen:
                continue
            seen.add(key(name))
            controls.append({"name": name, "locale": locale})
            added += 1
    json.dump({"generator": "make_watchlist_eval.py", "faker_seed": SEED,
               "listed": listed, "variants": variants, "controls": controls},
              fp=__import__("sys").stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
