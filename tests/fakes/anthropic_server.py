"""A local stand-in for the Messages API, used to record cassettes in the API's documented shape.

It answers `POST /v1/messages` in one of three ways.

With `output_config.format` (structured outputs: the workflow reading a question): a text block
holding the plainest JSON the schema allows (`instance_of`); tests script the JSON they mean.

Without `tools` (the workflow's answer step): it reads the events in the <calendar_data>
block of the last user message and writes "You have <title> on <weekday> at <HH:MM> at
<place>; ...". A <weather_data> block adds a sentence per forecast.

With `tools` (agent mode), as a small scripted tool-using Claude. Deterministic rules of thumb:

- The clock is "It is now <weekday> <d> <Month> <yyyy>, HH:MM" in the system prompt.
- The question is the latest user message with plain text; earlier ones are the chat so far.
  Time words in it give a window: today, tonight, tomorrow, a weekday ("Saturday": the next
  one, today included), this weekend / the weekend, this week (from now to Monday), next week.
  "my <word>" names an event ("my tennis match" -> "tennis", "my next dentist appointment" ->
  "dentist"; generic words such as meetings or plans name none), and so does "<Name>'s
  <word>" ("Sam's birthday"). A question with neither (a follow-up such as "what will the
  weather be?") borrows them from the latest earlier question that had one.
- First call: `search_calendar` with ISO `start`/`end` for the window, `text` for a named event
  and `limit: 1` for "next" or for a named event with no window (the next one). A weather
  question with no window and no event goes straight to `weather_forecast` with no place (now,
  at home).
- A weather question (weather, rain, umbrella, picnic, forecast, ...) whose calendar results
  (JSON in <calendar_data>) hold timed events with a real place (not "Online"): one
  `weather_forecast` call per event, up to 4, all in ONE response, so that they can run at
  once; with no such events, one `weather_forecast` for the window with no place (home).
- Then `end_turn` with a short factual text built only from the tool results: titles, weekday,
  date, times and places of the events; description, temperature and chance of rain from the
  <weather_data> JSON; a yes/no on the umbrella when rain is asked about; and the days left
  when the question asks "how many days" or "how long".
- A message with no time, event or weather in it gets a one-line "what I can do" answer.

Usage is counted at about four characters a token. When the request's system prompt or tools
carry `cache_control`, the prefix up to the marked block (tools, then system) is reported as
`cache_creation_input_tokens` on the first call of a conversation (no assistant turn yet) and
as `cache_read_input_tokens` on every later call, and `input_tokens` is the rest, as the real
API reports a cached prefix. Unlike the real API no minimum cacheable length is applied
(1,024 tokens or more, depending on the model), and nothing expires. Ids are derived from the
request, so the same request always gets the same answer.

Every request is first checked as the real API checks it (tests/fakes/anthropic_rules.py):
one it would refuse gets the same status and error body, and is listed by
`GET /_test/rejections`. Thinking blocks are signed; one that comes back changed, or is missing
from its assistant turn within the current tool loop, is refused too.

A test can change the next answers: `POST /_test/script {"next": [change, ...]}` queues one
change per call to come (see `scripted`; `POST /_test/reset` forgets everything): a thinking
block, no content, an empty text block, a stop reason (`max_tokens`,
`model_context_window_exceeded`, `refusal`, `pause_turn`), the text itself (`json`, `text`),
`status` (500 or 529: the API's error answer instead of a message), or `malformed`, a 200 whose JSON
body is cut off half way. A cut-off reply is finished when the next request
sends it back as an assistant turn followed by a user turn; a paused turn when it comes back
as the last (assistant) message.

Run it as a separate process: see tests/record_anthropic_cassettes.py and
tests/record_eval_conversations.py.

For durability tests (tests/test_durability.py): `--delay SECONDS` holds every answer that
long (a slow model, so a test can kill the bot while a call is in flight), and
a scripted `{"hold": true}` holds that one answer until its caller goes away (killed mid-call),
and `GET /_test/calls` lists the calls so far, `{"count": n, "calls": [...]}`, each with its `seq`,
the `question` (the latest user message with plain text), `turn` (how many assistant turns the
request already holds: 0 for a conversation's first call), `at`, `answered` (true once the
whole answer was written back to a caller still connected) and the `request` itself.

Any request can be made to fail as the real service fails (an error status, an HTML page, a
body cut off, dripping or without end, silence): `POST /_test/fault`, see tests/fakes/faults.py.

Run: python -m tests.fakes.anthropic_server [--port 0] [--delay 0.5]
It prints "PORT <n>" once listening.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import select
import socket
import threading
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.anthropic_rules import ApiError, invalid, rejection
from tests.fakes.faults import Faults, intercept

HOLD_SECONDS = 300  # a held answer goes out after this anyway, so a test that forgot it ends

# --- the workflow's answer step: no tools --------------------------------------------------------


def reply_for(request: dict[str, Any]) -> str:
    text = _text_of(request["messages"][-1]["content"])
    data = re.search(r"<calendar_data>\s*(\{.*\})\s*</calendar_data>", text, re.DOTALL)
    weather = [weather_sentence(report) for report in _weather_reports(text)]
    if not data:
        return " ".join(weather) if weather else "I don't have any calendar data to answer from."
    events = json.loads(data.group(1))["events"]
    if not events:
        return " ".join(["There's nothing in your calendar for that.", *weather])
    parts = []
    for event in events:
        if event["all_day"]:
            parts.append(f"{event['title']} (all day, {event['weekday']})")
        else:
            start = datetime.fromisoformat(event["start"])
            place = f" at {event['location']}" if event["location"] else ""
            parts.append(f"{event['title']} on {event['weekday']} at {start:%H:%M}{place}")
    return " ".join(["You have " + "; ".join(parts) + ".", *weather])


def message_for(request: dict[str, Any]) -> dict[str, Any]:
    messages = request["messages"]
    if (output_format := (request.get("output_config") or {}).get("format")) is not None:
        schema = output_format["schema"]
        text = json.dumps(instance_of(schema, schema.get("$defs") or {}))
        return _message(request, [{"type": "text", "text": text}], "end_turn")
    if messages[-1]["role"] == "assistant":  # a paused turn sent back: go on with it
        return message_for({**request, "messages": messages[:-1]})
    if (rest := _rest_of_cut_reply(request)) is not None:
        return _message(request, [{"type": "text", "text": rest}], "end_turn")
    if request.get("tools"):
        return tool_message_for(request)
    return _message(request, [{"type": "text", "text": reply_for(request)}], "end_turn")


def _message(request: dict[str, Any], content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    first = not any(message["role"] == "assistant" for message in request["messages"])
    return {
        "id": _id("msg_01", request, -1),
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "stop_details": None,
        "usage": _usage(request, content, first),
    }


def _rest_of_cut_reply(request: dict[str, Any]) -> str | None:
    """The rest of a reply cut off by max_tokens, when the request asks Claude to go on: the
    cut reply as the assistant turn before the last, and its whole reply starting with it."""
    messages = request["messages"]
    if len(messages) < 3 or not isinstance(said := messages[-2]["content"], list):
        return None
    cut = "".join(block.get("text", "") for block in said if block.get("type") == "text")
    whole = message_for({**request, "messages": messages[:-2]})["content"]
    text = "".join(block.get("text", "") for block in whole if block["type"] == "text")
    return text[len(cut) :] if cut and text.startswith(cut) and len(text) > len(cut) else None


# --- structured outputs: JSON that fits the schema ---------------------------------------------


def instance_of(schema: dict[str, Any], definitions: dict[str, Any]) -> Any:
    """The plainest value `schema` allows (null where it may be, the first of an enum, empty
    strings and lists), as constrained decoding guarantees some value that fits; a test scripts
    the value it means (`json`)."""
    if "$ref" in schema:
        return instance_of(definitions[schema["$ref"].removeprefix("#/$defs/")], definitions)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        choices = schema["anyOf"]
        plain = next((choice for choice in choices if choice.get("type") == "null"), choices[0])
        return instance_of(plain, definitions)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: instance_of(properties[name], definitions) for name in properties}
    if kind == "array":
        return [instance_of(schema["items"], definitions)] if schema.get("minItems") else []
    if kind == "string":
        return "2026-01-01T00:00:00+00:00" if schema.get("format") == "date-time" else ""
    return {"boolean": False, "integer": 0, "number": 0, "null": None}[kind]


# --- agent mode: a scripted tool-using model ----------------------------------------------------

NOW = re.compile(r"It is now \w+ (\d{1,2}) (\w+) (\d{4}), (\d{2}):(\d{2})")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEATHER = re.compile(
    r"\b(?:weather|rain\w*|umbrella|picnic|forecast|sunny|snow\w*|cold|warm|hot|wind\w*"
    r"|temperature)\b"
)
RAIN = re.compile(r"\b(?:rain\w*|umbrella|wet)\b")
WET = re.compile(r"rain|drizzle|shower|snow|thunder|sleet")
GENERIC = {
    "meetings", "meeting", "events", "event", "plans", "appointments", "appointment",
    "calendar", "schedule", "diary", "day", "week", "weekend", "evening", "morning", "own",
}  # fmt: skip
NOT_NAMES = {"what", "that", "it", "there", "where", "who", "how", "when", "here", "let"}
NOT_PLACES = {"online", "zoom", "teams", "google meet", "phone"}
MAX_FORECASTS = 4


@dataclass(frozen=True)
class Window:
    """A time range in the user's local time (naive, as the tools read it)."""

    start: datetime
    end: datetime


@dataclass
class Exchange:
    """What the model sees of the question being answered."""

    question: str
    earlier: list[str]  # earlier user messages, oldest first
    calls: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (tool_use, result)

    def results(self, tool: str) -> list[tuple[dict[str, Any], str]]:
        return [(use, result) for use, result in self.calls if use["name"] == tool]


def tool_message_for(request: dict[str, Any]) -> dict[str, Any]:
    system = _system_text(request.get("system", ""))
    now = _now_from(system)
    exchange = read_exchange(request["messages"])
    step = next_step(exchange, now)
    if isinstance(step, str):
        content: list[dict[str, Any]] = [{"type": "text", "text": step}]
        stop_reason = "end_turn"
    else:
        content = [
            {"type": "tool_use", "id": _id("toolu_01", request, n), "name": name, "input": args}
            for n, (name, args) in enumerate(step)
        ]
        stop_reason = "tool_use"
    return _message(request, content, stop_reason)


def read_exchange(messages: list[dict[str, Any]]) -> Exchange:
    """Split the conversation into the question, the chat before it and the tool calls since."""
    asked = [
        index
        for index, message in enumerate(messages)
        if message["role"] == "user" and _plain_text(message["content"])
    ]
    last = asked[-1] if asked else 0
    exchange = Exchange(
        question=_plain_text(messages[last]["content"]) if asked else "",
        earlier=[_plain_text(messages[index]["content"]) for index in asked[:-1]],
    )
    uses: dict[str, dict[str, Any]] = {}
    for message in messages[last + 1 :]:
        if not isinstance(message["content"], list):
            continue
        for block in message["content"]:
            if block.get("type") == "tool_use":
                uses[block["id"]] = block
            elif block.get("type") == "tool_result" and block["tool_use_id"] in uses:
                exchange.calls.append((uses[block["tool_use_id"]], _text_of(block["content"])))
    return exchange


def next_step(exchange: Exchange, now: datetime) -> list[tuple[str, dict[str, Any]]] | str:
    """The tool calls to ask for next, or the final answer's text."""
    question = exchange.question.lower().replace("’", "'")
    about_weather = bool(WEATHER.search(question))
    window, words = window_in(question, now), event_words(exchange.question)
    if window is None and not words:  # a follow-up: it means what was asked before
        for earlier in reversed(exchange.earlier):
            window, words = window_in(earlier.lower(), now), event_words(earlier)
            if window or words:
                break
    if not exchange.calls:
        if window is None and not words:
            if about_weather:
                return [("weather_forecast", {})]
            return (
                "I can look things up in your calendar and check the weather for your plans: "
                "ask me about a day or one of your events."
            )
        arguments: dict[str, Any] = {}
        if window:
            arguments |= {"start": window.start.isoformat(), "end": window.end.isoformat()}
        if words:
            arguments["text"] = words
        if re.search(r"\bnext\b", question) or (words and not window):
            arguments["limit"] = 1  # "my tennis match" with no time: the next one
        return [("search_calendar", arguments)]
    if about_weather and not exchange.results("weather_forecast"):
        placed = [event for event in _events(exchange) if _has_place(event)]
        if placed:
            return [
                (
                    "weather_forecast",
                    {"place": event["location"], "start": event["start"], "end": event["end"]},
                )
                for event in placed[:MAX_FORECASTS]
            ]
        arguments = {}
        if window:
            arguments = {"start": window.start.isoformat(), "end": window.end.isoformat()}
        return [("weather_forecast", arguments)]
    return final_text(exchange, now)


def window_in(text: str, now: datetime) -> Window | None:
    """The time a lower-case question names, as local start and (exclusive) end."""
    today = datetime.combine(now.date(), time())
    monday = today - timedelta(days=now.weekday())
    if "next week" in text:
        return Window(monday + timedelta(days=7), monday + timedelta(days=14))
    if "this week" in text:
        return Window(now, monday + timedelta(days=7))
    if "weekend" in text:
        saturday = monday + timedelta(days=5)
        return Window(max(saturday, today), monday + timedelta(days=7))
    if "tonight" in text:
        return Window(max(now, today + timedelta(hours=18)), today + timedelta(days=1))
    if re.search(r"\btoday\b", text):
        return Window(today, today + timedelta(days=1))
    if re.search(r"\btomorrow\b", text):
        return Window(today + timedelta(days=1), today + timedelta(days=2))
    for number, name in enumerate(WEEKDAYS):
        if re.search(rf"\b{name}\b", text):
            day = today + timedelta(days=(number - now.weekday()) % 7)
            return Window(day, day + timedelta(days=1))
    return None


def event_words(text: str) -> str:
    """The words naming one event: "my tennis match" -> "tennis", "Sam's birthday" as is."""
    lowered = text.lower().replace("’", "'")
    for match in re.finditer(r"\bmy (?:next )?([a-z]+)", lowered):
        if match[1] not in GENERIC:
            return match[1]
    for match in re.finditer(r"\b([A-Z][a-z]+)['’]s ([a-z]+)\b", text):
        if match[1].lower() not in NOT_NAMES:
            return f"{match[1]}'s {match[2]}"
    return ""


def final_text(exchange: Exchange, now: datetime) -> str:
    """A short factual answer from what the tools returned, and nothing else."""
    question = exchange.question.lower()
    events = _events(exchange)
    forecasts = [
        (use["input"], report)
        for use, result in exchange.results("weather_forecast")
        for report in _weather_reports(result)
    ]
    if forecasts:
        sentences = []
        wet_events = []
        for asked, report in forecasts:
            event = next(
                (
                    e
                    for e in events
                    if e["start"] == asked.get("start") and e["location"] == asked.get("place")
                ),
                None,
            )
            if event is not None:
                sentences.append(f"{_event_phrase(event)}: {_forecast_phrase(report)}.")
                if _is_wet(report):
                    wet_events.append(event["title"])
            else:
                sentences.append(weather_sentence(report))
        if RAIN.search(question):
            if wet_events:
                verdict = "Yes, take an umbrella for " + " and ".join(wet_events) + "."
            elif any(_is_wet(report) for _, report in forecasts):
                verdict = "Yes, rain is likely: take an umbrella."
            else:
                verdict = "No, it should stay dry: you shouldn't need an umbrella."
            sentences.insert(0, verdict)
        return " ".join(sentences)
    if not events:
        return "There's nothing in your calendar for that."
    answer = "You have " + "; ".join(_event_phrase(event) for event in events) + "."
    if re.search(r"how many days|how long", question) and len(events) == 1:
        days = (date.fromisoformat(events[0]["start"][:10]) - now.date()).days
        answer += f" That's in {days} day{'s' if days != 1 else ''}."
    return answer


def weather_sentence(report: dict[str, Any]) -> str:
    """One forecast in a sentence: "In London on Saturday 28 November at 09:00: fog, 9°C, ..."."""
    place = (report.get("place") or report.get("asked_for") or "your area").split(",")[0]
    if not report.get("hourly") and not report.get("daily"):
        return report.get("note") or f"I have no forecast for {place}."
    sentences = []
    for hour in report.get("hourly", []):
        at = datetime.fromisoformat(hour["time"])
        sentences.append(
            f"In {place} on {at:%A} {at.day} {at:%B} at {at:%H:%M}: {_hour_phrase(hour, report)}."
        )
    for day in report.get("daily", []):
        on = date.fromisoformat(day["day"])
        sentences.append(f"In {place} on {on:%A} {on.day} {on:%B}: {_day_phrase(day, report)}.")
    return " ".join(sentences)


def _forecast_phrase(report: dict[str, Any]) -> str:
    if report.get("hourly"):
        return _hour_phrase(report["hourly"][0], report)
    if report.get("daily"):
        return _day_phrase(report["daily"][0], report)
    return report.get("note") or "no forecast"


def _hour_phrase(hour: dict[str, Any], report: dict[str, Any]) -> str:
    unit = report["units"]["temperature"]
    chance = hour.get("precipitation_probability")
    rain = f", {chance}% chance of rain" if chance is not None else ""
    return f"{hour['description']}, {hour['temperature']:.0f}{unit}{rain}"


def _day_phrase(day: dict[str, Any], report: dict[str, Any]) -> str:
    unit = report["units"]["temperature"]
    chance = day.get("precipitation_probability_max")
    rain = f", {chance}% chance of rain" if chance is not None else ""
    low, high = day["temperature_min"], day["temperature_max"]
    return f"{day['description']}, {low:.0f}–{high:.0f}{unit}{rain}"


def _is_wet(report: dict[str, Any]) -> bool:
    """Rain in the description, or a chance of rain of 50% or more."""
    for entry in [*report.get("hourly", []), *report.get("daily", [])]:
        chance = entry.get("precipitation_probability", entry.get("precipitation_probability_max"))
        if WET.search(entry["description"]) or (chance or 0) >= 50:
            return True
    return False


def _event_phrase(event: dict[str, Any]) -> str:
    on = datetime.fromisoformat(event["start"])
    when = f"{on:%A} {on.day} {on:%B}"
    if event["all_day"]:
        return f"{event['title']} (all day, {when})"
    place = f" at {event['location']}" if event["location"] else ""
    return f"{event['title']} on {when} at {on:%H:%M}{place}"


def _events(exchange: Exchange) -> list[dict[str, Any]]:
    """Every event the calendar searches returned, each once, in order."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for _, result in exchange.results("search_calendar"):
        data = re.search(r"<calendar_data>\s*(\{.*\})\s*</calendar_data>", result, re.DOTALL)
        for event in json.loads(data.group(1))["events"] if data else []:
            found.setdefault((event["title"], event["start"]), event)
    return list(found.values())


def _has_place(event: dict[str, Any]) -> bool:
    location = (event.get("location") or "").strip().lower()
    return not event["all_day"] and bool(location) and location not in NOT_PLACES


def _weather_reports(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(block)
        for block in re.findall(r"<weather_data>\s*(\{.*?\})\s*</weather_data>", text, re.DOTALL)
    ]


def _usage(request: dict[str, Any], content: list[dict[str, Any]], first: bool) -> dict[str, int]:
    """Token counts as the API reports them, with the cached prefix counted apart."""
    tools, system = request.get("tools", []), request.get("system", "")
    system_cached = isinstance(system, list) and any("cache_control" in b for b in system)
    if system_cached:
        prefix = len(json.dumps(tools)) + len(json.dumps(system))
    elif any("cache_control" in tool for tool in tools):
        prefix = len(json.dumps(tools))
    else:
        prefix = 0
    # A structured output's schema reaches the model as part of its prompt, and is billed so.
    output_format = (request.get("output_config") or {}).get("format")
    total = (
        len(json.dumps(tools))
        + len(json.dumps(system))
        + len(json.dumps(request["messages"]))
        + (len(json.dumps(output_format)) if output_format else 0)
    )
    cached = prefix // 4
    return {
        # About four characters a token, as Claude's tokenizer roughly gives for English.
        "input_tokens": total // 4 - cached,
        "output_tokens": len(json.dumps(content)) // 4 + 1,
        "cache_creation_input_tokens": cached if first else 0,
        "cache_read_input_tokens": 0 if first else cached,
    }


def _system_text(system: str | list[dict[str, Any]]) -> str:
    return system if isinstance(system, str) else " ".join(b.get("text", "") for b in system)


def _now_from(system: str) -> datetime:
    found = NOW.search(system)
    if found is None:
        raise ValueError("the system prompt does not say what time it is")
    day, month, year, hour, minute = found.groups()
    return datetime.strptime(f"{day} {month} {year} {hour}:{minute}", "%d %B %Y %H:%M")


def _text_of(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return " ".join(block.get("text", "") for block in content)


def _plain_text(content: str | list[dict[str, Any]]) -> str:
    """The text of a message a person wrote; "" for a turn of tool results."""
    if isinstance(content, str):
        return content
    if any(block.get("type") == "tool_result" for block in content):
        return ""
    return " ".join(block.get("text", "") for block in content if block.get("type") == "text")


def _id(prefix: str, request: dict[str, Any], number: int) -> str:
    """An id in the API's style (base62 after the prefix), the same for the same request."""
    digest = hashlib.sha256(f"{number}:{json.dumps(request, sort_keys=True)}".encode()).digest()
    value, letters = int.from_bytes(digest[:16]), []
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    while len(letters) < 22:
        value, digit = divmod(value, 62)
        letters.append(alphabet[digit])
    return prefix + "".join(letters)


# --- scripted answers: thinking, stop reasons, broken bodies ------------------------------------


def scripted(answer: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`answer` changed as a test asked (POST /_test/script), each key one way a real answer
    can differ: `json` (the text is this value as JSON: a structured output the test chose),
    `text` (the text as given), `thinking` (its text; a thinking block first, signed), `empty`
    (no content),
    `empty_text` (an empty text block, as the API sends at times), `stop_reason` (`max_tokens` and
    `model_context_window_exceeded` cut the reply in half; `refusal` drops the text and gives
    `stop_details`, with `explanation` if set; `pause_turn` leaves only a server tool call).
    `hold` changes not the answer but when it is sent (see `Handler._hold_while_caller_waits`)."""
    content = list(answer["content"])
    if "json" in change or "text" in change:
        said = change["text"] if "text" in change else json.dumps(change["json"])
        content = [{"type": "text", "text": said}]
    stop = change.get("stop_reason")
    if stop in ("max_tokens", "model_context_window_exceeded"):
        content = [_cut(block) for block in content]
    elif stop == "refusal":
        content = []
        answer["stop_details"] = {
            "type": "refusal",
            "category": None,
            "explanation": change.get("explanation"),
        }
    elif stop == "pause_turn":
        search = {"query": "Tandem's question"}
        content = [{"type": "server_tool_use", "id": "srvtoolu_01Paused", "name": "web_search",
                    "input": search}]  # fmt: skip
    if change.get("empty"):
        content = []
    if change.get("empty_text"):
        content.insert(0, {"type": "text", "text": ""})
    if "thinking" in change:
        text = change["thinking"]
        content.insert(0, {"type": "thinking", "thinking": text, "signature": signature(text)})
    return {**answer, "content": content, "stop_reason": stop or answer["stop_reason"]}


def _cut(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] != "text":
        return block
    words = block["text"].split(" ")
    return {**block, "text": " ".join(words[: max(1, len(words) // 2)])}


def signature(thinking: str) -> str:
    """The fake's signature of a thinking block: it changes with the block's text."""
    return hashlib.sha256(f"tandem-fake-thinking:{thinking}".encode()).hexdigest()


def thinking_rejection(
    request: dict[str, Any], issued: dict[str, dict[str, Any]]
) -> ApiError | None:
    """Thinking blocks must come back unchanged, and within the current tool loop at all:
    `issued` maps each tool_use id this fake sent to the thinking block sent with it."""
    messages = request["messages"]
    asked = [i for i, m in enumerate(messages) if m["role"] == "user" and _plain_text(m["content"])]
    loop_start = asked[-1] if asked else 0
    for index, message in enumerate(messages):
        if not isinstance(message["content"], list) or message["role"] != "assistant":
            continue
        blocks = message["content"]
        for number, block in enumerate(blocks):
            if block.get("type") == "thinking" and block.get("signature") != signature(
                block.get("thinking", "")
            ):
                return invalid(
                    f"messages.{index}.content.{number}: Invalid `signature` in `thinking` block"
                )
        wanted = [
            issued[block["id"]]
            for block in blocks
            if block.get("type") == "tool_use" and block["id"] in issued
        ]
        if index > loop_start and any(thinking not in blocks for thinking in wanted):
            return invalid(
                f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, "
                "but found `tool_use`. Thinking blocks of the current tool loop must be passed "
                "back unchanged."
            )
    return None


# --- HTTP ---------------------------------------------------------------------------------------


# The faults a test queued (POST /_test/fault; see tests/fakes/faults.py).
FAULTS = Faults()
SERVER_ERRORS = {
    500: ApiError(500, "api_error", "Internal server error"),
    529: ApiError(529, "overloaded_error", "Overloaded"),
}


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_POST(self) -> None:
        if intercept(self, FAULTS):
            return
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        path = self.path.split("?")[0]
        if path == "/_test/script":
            with self.server.lock:
                self.server.script.extend(body["next"])
            self._send(200, {"queued": len(self.server.script)})
            return
        if path == "/_test/reset":
            self.server.reset()
            self._send(200, {})
            return
        if path != "/v1/messages":
            self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": ""}})
            return
        with self.server.lock:
            error = rejection(body) or thinking_rejection(body, self.server.issued)
        if error is not None:
            self.server.rejected(error)
            self._send(error.status, error.body("req_fake"))
            return
        call = self.server.seen(body)
        change = self.server.next_change()
        if "status" in change:  # a scripted failure: the API's error body for that status
            error = SERVER_ERRORS[change["status"]]
            self._send(error.status, error.body("req_fake"))
            return
        answer = self.server.remember(scripted(message_for(body), change))
        if change.get("hold"):
            self._hold_while_caller_waits()
        else:
            clock.sleep(self.server.delay)
        if self._caller_gone():
            return  # killed while waiting: nobody will read the answer, so it is not logged as one
        try:
            self._send(200, answer, cut=bool(change.get("malformed")))
        except (BrokenPipeError, ConnectionResetError):
            return
        with self.server.lock:
            call["answered"] = True

    def _hold_while_caller_waits(self) -> None:
        """A scripted `hold`: keep the answer back until the caller goes away (a test kills it
        mid-call), so no busy machine can let the answer slip out before the kill."""
        for _ in range(int(HOLD_SECONDS / 0.01)):
            if self._caller_gone():
                return
            clock.sleep(0.01)

    def _caller_gone(self) -> bool:
        """Whether the client closed the connection (it sends nothing more while it waits)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        try:
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True

    def do_GET(self) -> None:
        if intercept(self, FAULTS):
            return
        path = self.path.split("?")[0]
        with self.server.lock:
            logs = {"/_test/calls": self.server.calls, "/_test/rejections": self.server.rejections}
            entries = [dict(entry) for entry in logs.get(path, [])]
        if path not in logs:
            self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": ""}})
            return
        self._send(200, {"count": len(entries), path.rsplit("/", 1)[1]: entries})

    def _send(self, status: int, payload: dict[str, Any], cut: bool = False) -> None:
        data = json.dumps(payload).encode()
        if cut:  # a body cut off on its way, still announced as whole and as JSON
            data = data[: len(data) // 2]
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", "req_fake")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    """The HTTP server, with its logs, the scripted changes to come and the thinking blocks
    it sent, behind a lock."""

    # Room for a burst of callers (bench/ sends 100 at once): the default backlog of 5 makes
    # connections fail or wait a second, and the fake, not the bot, would be what is measured.
    request_queue_size = 256

    def __init__(self, port: int, delay: float) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.delay = delay
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every call, rejection, scripted change and thinking block (POST /_test/reset)."""
        with self.lock:
            self.calls: list[dict[str, Any]] = []
            self.rejections: list[dict[str, Any]] = []
            self.script: list[dict[str, Any]] = []
            self.issued: dict[str, dict[str, Any]] = {}

    def seen(self, request: dict[str, Any]) -> dict[str, Any]:
        """Log one call to /v1/messages as it arrives; `answered` is set once it is answered."""
        messages = request["messages"]
        call = {
            "question": read_exchange(messages).question,
            "turn": sum(message["role"] == "assistant" for message in messages),
            "at": clock.time(),
            "answered": False,
            "request": request,
        }
        with self.lock:
            call["seq"] = len(self.calls) + 1
            self.calls.append(call)
        return call

    def rejected(self, error: ApiError) -> None:
        with self.lock:
            self.rejections.append({"status": error.status, "message": error.message})

    def next_change(self) -> dict[str, Any]:
        with self.lock:
            return self.script.pop(0) if self.script else {}

    def remember(self, answer: dict[str, Any]) -> dict[str, Any]:
        """Note the thinking block sent with each tool call, to check it comes back."""
        thinking = [block for block in answer["content"] if block["type"] == "thinking"]
        with self.lock:
            for block in answer["content"]:
                if block["type"] == "tool_use" and thinking:
                    self.issued[block["id"]] = thinking[0]
        return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds to hold every answer (a slow model)"
    )
    arguments = parser.parse_args()
    server = Server(arguments.port, arguments.delay)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
