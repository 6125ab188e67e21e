"""Airport codes read as the places they serve: "Flight AI 188 YYZ → DEL" goes to Delhi, India.

People title flights with the codes on their boarding passes and ask with place names ("my flight
to Delhi", "when do I leave for India?"). `airportsdata` holds every IATA code's airport, city
and country; the country's name comes from the time zone database's own table (tzdata), as the
user's country does for date order.
"""

from __future__ import annotations

import re
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


def places(text: str) -> str:
    """The airports, cities and countries that the IATA codes in a journey's text name, as
    words ("DEL" → "Indira Gandhi New Delhi India"); "" when it names none."""
    named = []
    for code in _CODE.findall(text):
        airport = _airports().get(code)
        if airport:
            name = _AIRPORT_WORDS.sub(" ", airport["name"])
            named.append(f"{name} {airport['city']} {_countries().get(airport['country'], '')}")
    return " ".join(" ".join(named).split())


@cache
def _airports() -> dict[str, dict[str, str]]:
    import airportsdata

    return airportsdata.load("IATA")


@cache
def _countries() -> dict[str, str]:
    """ISO 3166 country codes to their English names ("IN" → "India")."""
    import tzdata

    table = (files(tzdata) / "zoneinfo" / "iso3166.tab").read_text()
    rows = (line.split("\t") for line in table.splitlines() if not line.startswith("#"))
    return {row[0]: row[1] for row in rows if len(row) >= 2}
