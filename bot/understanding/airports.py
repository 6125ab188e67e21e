"""Airport codes and cities read as the places they are in: "Flight AI 188 YYZ → DEL" goes to
Delhi, India; "Flight OS 1695 Vienna → Kittilä" goes to Finland.

People title flights with the codes on their boarding passes or the cities they fly to, and ask
with place names ("my flight to Delhi", "when do I leave for India?", "the flight to Finland").
`airportsdata` holds every IATA code's airport, city and country; the country's name comes from
the time zone database's own table (tzdata), as the user's country does for date order.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from functools import cache
from importlib.resources import files

# An IATA code as written on a ticket: three capitals standing alone ("DEL", not "Del Mar").
_CODE = re.compile(r"(?<![\w-])[A-Z]{3}(?![\w-])")
# Words of an airport's name that say it is an airport, not where it is.
_AIRPORT_WORDS = re.compile(
    r"\b(?:international|intl|airport|airfield|aerodrome|regional|municipal|domestic|"
    r"intercontinental|air|base|field)\b",
    re.IGNORECASE,
)
# The table names some cities with their island: "Denpasar-Bali Island" is Denpasar.
_ISLAND_CITY = re.compile(r"-[^-]+ island$")
LONGEST_CITY = 3  # words in a city's name looked for: "Salt Lake City"
# What people call a country besides the table's name ("Britain (UK)", "United States").
ALSO_CALLED = {
    "US": "USA America", "GB": "United Kingdom Great Britain", "NL": "Holland",
    "CZ": "Czechia", "AE": "UAE", "KR": "South Korea",
}  # fmt: skip


def places(text: str, countries: bool = True) -> str:
    """The airports, cities and countries that a journey's text names, as words: an IATA code's
    with its state or province ("MCO" → "Orlando Orlando Florida United States USA America")
    and a city's region and country ("Kittilä" → "Lapland Finland"); "" when it names none.
    Without `countries`, no city's region or country: two cities of one are two places."""
    named = []
    for code in _CODE.findall(text):
        airport = _airports().get(code)
        if airport:
            name = _AIRPORT_WORDS.sub(" ", airport["name"])
            country = _countries().get(airport["country"], "") if countries else ""
            named.append(f"{name} {airport['city']} {airport['subd']} {country}")
    words = re.findall(r"[^\W\d_]+", _folded(text)) if countries else []
    for size in range(1, LONGEST_CITY + 1):
        for at in range(len(words) - size + 1):
            country, region = _city_places().get(" ".join(words[at : at + size]), ("", ""))
            if country:
                named.append(f"{region} {_countries().get(country, '')}")
    return " ".join(" ".join(named).split())


def _folded(text: str) -> str:
    """Lower case without accents: "Kittilä" is "kittila", as the airports' table has it."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@cache
def _airports() -> dict[str, dict[str, str]]:
    import airportsdata

    return airportsdata.load("IATA")


@cache
def _city_places() -> dict[str, tuple[str, str]]:
    """A city's country and the state, province or island its airports are in ("denpasar":
    Indonesia, Bali). The country is the time zone database's, whose zones are named for a
    region's main city ("Europe/Paris", not Paris, Texas); else the country with most of the
    airports that serve a city of that name ("Kittila": Finland), none when two countries have
    as many."""
    import tzdata

    serving: defaultdict[str, Counter[str]] = defaultdict(Counter)
    regions: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for airport in _airports().values():
        city = _folded(airport["city"])
        for name in {city, _ISLAND_CITY.sub("", city)}:
            serving[name][airport["country"]] += 1
            regions[name, airport["country"]][airport["subd"]] += 1
    cities = {}
    for city, countries in serving.items():
        (first, most), *rest = countries.most_common(2)
        if len(city) > 2 and not (rest and rest[0][1] == most):
            cities[city] = first
    table = (files(tzdata) / "zoneinfo" / "zone.tab").read_text()
    for line in table.splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not line.startswith("#"):
            cities[_folded(fields[2].rsplit("/", 1)[-1].replace("_", " "))] = fields[0]
    return {
        city: (country, (regions[city, country].most_common(1) or [("", 0)])[0][0])
        for city, country in cities.items()
    }


@cache
def _countries() -> dict[str, str]:
    """ISO 3166 country codes to their English names ("IN" → "India")."""
    import tzdata

    table = (files(tzdata) / "zoneinfo" / "iso3166.tab").read_text()
    rows = (line.split("\t") for line in table.splitlines() if not line.startswith("#"))
    names = {row[0]: row[1] for row in rows if len(row) >= 2}
    return {code: f"{name} {ALSO_CALLED.get(code, '')}".strip() for code, name in names.items()}
