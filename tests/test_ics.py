"""The .ics calendar source: what a user would check in their own calendar."""

from __future__ import annotations

import os
import socket
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from integrations.calendar import CalendarError, Event
from integrations.calendar.ics import IcsCalendarSource
from tests.fakes import running, silent_server

HERE = Path(__file__).parent
DATA = HERE / "data"
SAMPLE = HERE.parent / "config" / "sample-calendar.ics"
LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")
ADDRESS = "calendar.example.com/ical/alex%40example.com/private-5f2c9a1e/basic.ics"


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(HERE / "cassettes")


def source(fixture: str) -> IcsCalendarSource:
    return IcsCalendarSource("test", path=DATA / fixture)


def at(day: date, hour: int = 0, minute: int = 0, zone: ZoneInfo = LONDON) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def titles(events: list[Event]) -> list[str]:
    return [event.title for event in events]


# Recurrence and time zones


@pytest.mark.parametrize(
    ("before", "after"),
    [(date(2026, 3, 23), date(2026, 3, 30)), (date(2026, 10, 19), date(2026, 10, 26))],
    ids=["clocks-forward", "clocks-back"],
)
def test_weekly_event_stays_at_local_time_across_daylight_saving(before: date, after: date):
    events = source("london-weekly.ics").events(at(before), at(after + timedelta(days=1)))

    assert [event.start.date() for event in events] == [before, after]
    for event in events:
        local = event.start.astimezone(LONDON)
        assert (local.hour, local.minute) == (9, 0)
        assert event.end - event.start == timedelta(hours=1)
    assert events[0].start.utcoffset() != events[1].start.utcoffset()


def test_times_are_given_in_the_zone_of_the_query():
    # The 09:00 London lesson is at 09:00 UTC in winter and 08:00 UTC in summer.
    events = source("london-weekly.ics").events(
        at(date(2026, 3, 23), zone=UTC), at(date(2026, 4, 1), zone=UTC)
    )

    assert [event.start.hour for event in events] == [9, 8]
    assert all(event.start.tzinfo == UTC for event in events)


def test_exdate_removes_one_occurrence():
    calendar = source("london-weekly.ics")

    assert titles(calendar.events(at(date(2026, 4, 13)), at(date(2026, 4, 14)))) == []
    assert titles(calendar.events(at(date(2026, 4, 6)), at(date(2026, 4, 7)))) == ["Piano lesson"]


def test_an_overridden_instance_moves_to_its_new_time():
    week = source("london-weekly.ics").events(at(date(2026, 4, 20)), at(date(2026, 4, 26)))

    assert len(week) == 1
    moved = week[0]
    assert moved.title == "Piano lesson (moved)"
    assert moved.start == at(date(2026, 4, 21), 16)
    assert moved.end == at(date(2026, 4, 21), 17)
    assert moved.location == "Wigmore Hall, London"


def test_cancelled_events_are_skipped():
    # Monday's lesson was cancelled as one instance, Wednesday's concert as a whole event.
    week = source("london-weekly.ics").events(at(date(2026, 4, 27)), at(date(2026, 5, 4)))

    assert week == []
    # Kept apart, so a question naming one can be told it is cancelled.
    assert week.cancelled and all(event.cancelled for event in week.cancelled)
    assert len({event.title for event in week.cancelled}) == 2


def test_free_time_and_tentative_events_say_so(tmp_path: Path):
    path = tmp_path / "marked.ics"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        "BEGIN:VEVENT\nUID:wfh\nSUMMARY:Working from home\nDTSTART;VALUE=DATE:20261204\n"
        "DTEND;VALUE=DATE:20261205\nTRANSP:TRANSPARENT\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:pto\nSUMMARY:Time off\nDTSTART;VALUE=DATE:20261204\n"
        "DTEND;VALUE=DATE:20261205\nTRANSP:OPAQUE\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:drinks\nSUMMARY:Drinks?\nDTSTART:20261204T200000Z\n"
        "DTEND:20261204T220000Z\nSTATUS:TENTATIVE\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    day = IcsCalendarSource("test", path=path).events(at(date(2026, 12, 4)), at(date(2026, 12, 5)))

    marked = {event.title: (event.busy, event.tentative) for event in day}
    assert marked == {
        "Working from home": (False, False),
        "Time off": (True, False),
        "Drinks?": (True, True),
    }


def test_an_all_day_event_takes_up_no_time_unless_marked_busy(tmp_path: Path):
    path = tmp_path / "periods.ics"
    day = "DTSTART;VALUE=DATE:20261204\nDTEND;VALUE=DATE:20261205\n"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        f"BEGIN:VEVENT\nUID:term\nSUMMARY:School holidays\n{day}END:VEVENT\n"
        f"BEGIN:VEVENT\nUID:ooo\nSUMMARY:Conference\n{day}"
        "X-MICROSOFT-CDO-BUSYSTATUS:OOF\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:gym\nSUMMARY:Gym\nDTSTART:20261204T080000Z\n"
        "DTEND:20261204T090000Z\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:call\nSUMMARY:Call\nDTSTART:20261204T100000Z\n"
        "DTEND:20261204T110000Z\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    events = IcsCalendarSource("test", path=path).events(
        at(date(2026, 12, 4)), at(date(2026, 12, 5))
    )

    busy = {event.title: event.busy for event in events}
    assert busy == {"School holidays": False, "Conference": True, "Gym": False, "Call": True}


def test_broken_events_do_not_hide_the_rest_of_the_calendar(tmp_path: Path):
    (tmp_path / "mixed.ics").write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\n"
        "BEGIN:VEVENT\nUID:a\nDTSTART:20260301T090000Z\nRRULE:FREQ=SOMETIMES\n"
        "SUMMARY:Bad rule\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:b\nSUMMARY:No start\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:c\nDTSTART:20260301T110000Z\nDTEND:20260301T120000Z\n"
        "SUMMARY:Brunch\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    calendar = IcsCalendarSource("mixed", path=tmp_path / "mixed.ics")

    events = calendar.events(at(date(2026, 3, 1)), at(date(2026, 3, 2)))

    assert titles(events) == ["Brunch"]
    assert events.notes == ("2 events in the calendar 'mixed' could not be read.",)


@pytest.mark.parametrize(
    "damage",
    [
        ("END:VEVENT\nBEGIN:VEVENT\nUID:c", "BEGIN:VEVENT\nUID:c"),  # a line lost
        ("SUMMARY:Dentist\nEND:VEVENT\nEND:VCALENDAR\n", "SUMMARY:Dentist\n"),  # cut off
    ],
    ids=["an event left open", "a file cut off"],
)
def test_one_damaged_event_costs_only_itself(tmp_path: Path, damage: tuple[str, str]):
    whole = (
        "BEGIN:VCALENDAR\nVERSION:2.0\n"
        "BEGIN:VEVENT\nUID:a\nDTSTART:20260301T090000Z\nDTEND:20260301T100000Z\n"
        "SUMMARY:Parkrun\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:b\nDTSTART:20260301T110000Z\nDTEND:20260301T120000Z\n"
        "SUMMARY:Brunch\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:c\nDTSTART:20260301T160000Z\nSUMMARY:Dentist\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    (tmp_path / "damaged.ics").write_text(whole.replace(*damage))
    calendar = IcsCalendarSource("home", path=tmp_path / "damaged.ics")

    events = calendar.events(at(date(2026, 3, 1)), at(date(2026, 3, 2)))

    # Before: "the file ... is not an iCalendar (.ics) file", and no event at all.
    assert "Parkrun" in titles(events) and len(events) == 2
    assert events.notes == ("1 event in the calendar 'home' could not be read.",)


def test_unreadable_events_are_logged_by_number_not_by_content(tmp_path: Path, caplog):
    (tmp_path / "broken.ics").write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\n"
        "BEGIN:VEVENT\nUID:b\nSUMMARY:Meet the whistleblower\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    calendar = IcsCalendarSource("work", path=tmp_path / "broken.ics")

    calendar.events(at(date(2026, 3, 1)), at(date(2026, 3, 2)))

    assert "calendar 'work': 1 events could not be read" in caplog.text
    assert "whistleblower" not in caplog.text


EVERY_SECOND = (
    "BEGIN:VEVENT\nUID:every-second@attacker.example\nDTSTAMP:20261101T000000Z\n"
    "DTSTART:20261101T000000Z\nDTEND:20261101T000001Z\nRRULE:FREQ=SECONDLY\n"
    "SUMMARY:Every second\nEND:VEVENT\n"
)


def test_an_event_repeating_every_second_is_left_out_with_a_word(tmp_path: Path):
    # Before: expanding it from 1 November reached millions of occurrences and gigabytes.
    (tmp_path / "cal.ics").write_text(
        SAMPLE.read_text().replace("END:VCALENDAR", EVERY_SECOND + "END:VCALENDAR")
    )
    calendar = IcsCalendarSource("alex", path=tmp_path / "cal.ics")

    events = calendar.events(at(date(2026, 11, 26)), at(date(2026, 11, 27)))

    assert titles(events) == ["Team stand-up", "Choir rehearsal"]
    assert events.notes == ("I left out “Every second”: it repeats too often to read.",)


def test_occurrences_per_event_are_capped_and_the_cap_is_named(tmp_path: Path):
    every_minute = EVERY_SECOND.replace("SECONDLY", "MINUTELY").replace("20261101", "20261126")
    (tmp_path / "cal.ics").write_text(
        SAMPLE.read_text().replace("END:VCALENDAR", every_minute + "END:VCALENDAR")
    )
    calendar = IcsCalendarSource("alex", path=tmp_path / "cal.ics", max_occurrences_per_event=50)

    events = calendar.events(at(date(2026, 11, 26)), at(date(2026, 11, 27)))

    assert titles(events).count("Every second") == 50
    assert "Team stand-up" in titles(events) and "Choir rehearsal" in titles(events)
    assert events.notes == (
        "“Every second” repeats more than 50 times here; I read its first 50 "
        "(search.max_occurrences_per_event).",
    )
    later = calendar.events(at(date(2026, 11, 26), 12), at(date(2026, 11, 26), 13))
    assert titles(later).count("Every second") == 50  # not the first expansion's leftovers


def test_events_carry_the_calendar_name_and_uid():
    (event,) = source("london-weekly.ics").events(at(date(2026, 1, 5)), at(date(2026, 1, 6)))

    assert event.calendar == "test"
    assert event.uid == "piano-lesson@test.example"
    assert event.all_day is False


# All-day events


@pytest.mark.parametrize("zone", [LONDON, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")])
def test_all_day_events_run_from_midnight_to_midnight_in_the_query_zone(zone: ZoneInfo):
    events = source("all-day.ics").events(
        at(date(2026, 7, 1), zone=zone), at(date(2026, 8, 1), zone=zone)
    )

    holiday, bins = events
    assert holiday.title == "Holiday in Lisbon"
    assert holiday.all_day
    assert holiday.start == at(date(2026, 7, 10), zone=zone)
    # Three days, 10 to 12 July: the end is the midnight after the last day.
    assert holiday.end == at(date(2026, 7, 13), zone=zone)
    assert holiday.start.tzinfo is zone
    # No DTEND on an all-day event means one day.
    assert (bins.title, bins.start, bins.end) == (
        "Bin day",
        at(date(2026, 7, 14), zone=zone),
        at(date(2026, 7, 15), zone=zone),
    )


def test_all_day_event_is_found_when_the_window_overlaps_any_part_of_it():
    calendar = source("all-day.ics")

    late_on_the_last_day = calendar.events(at(date(2026, 7, 12), 23), at(date(2026, 7, 13), 1))
    from_the_day_after = calendar.events(at(date(2026, 7, 13)), at(date(2026, 7, 14)))
    until_the_first_day = calendar.events(at(date(2026, 7, 9)), at(date(2026, 7, 10)))

    assert titles(late_on_the_last_day) == ["Holiday in Lisbon"]
    assert titles(from_the_day_after) == []
    assert titles(until_the_first_day) == []


# The window's edges


def test_an_event_already_under_way_at_the_window_start_is_included():
    events = source("london-weekly.ics").events(
        at(date(2026, 1, 5), 9, 30), at(date(2026, 1, 5), 12)
    )

    assert titles(events) == ["Piano lesson"]


def test_an_event_still_going_at_the_window_end_is_included():
    events = source("london-weekly.ics").events(at(date(2026, 1, 5), 8), at(date(2026, 1, 5), 9, 1))

    assert titles(events) == ["Piano lesson"]


def test_events_touching_the_window_edges_are_excluded():
    calendar = source("london-weekly.ics")

    ends_as_window_starts = calendar.events(at(date(2026, 1, 5), 10), at(date(2026, 1, 5), 12))
    starts_as_window_ends = calendar.events(at(date(2026, 1, 5), 8), at(date(2026, 1, 5), 9))

    assert ends_as_window_starts == []
    assert starts_as_window_ends == []


# Other producers


def test_google_export_with_x_wr_timezone_keeps_local_time_after_clock_change():
    berlin = ZoneInfo("Europe/Berlin")
    events = source("google-export.ics").events(
        at(date(2026, 3, 19), zone=berlin), at(date(2026, 4, 3), zone=berlin)
    )

    # Written as 08:00 UTC (09:00 in Berlin in winter); it stays 09:00 after 29 March.
    assert [(event.start.day, event.start.hour, event.start.minute) for event in events] == [
        (19, 9, 0),
        (26, 9, 0),
        (2, 9, 0),
    ]
    assert events[0].title == "Weekly sync"


def test_an_unknown_x_wr_timezone_still_gives_the_right_utc_time(tmp_path: Path):
    text = (DATA / "google-export.ics").read_text().replace("Europe/Berlin", "Mars/Olympus_Mons")
    (tmp_path / "odd.ics").write_text(text)
    calendar = IcsCalendarSource("odd", path=tmp_path / "odd.ics")

    events = calendar.events(at(date(2026, 3, 5), zone=UTC), at(date(2026, 3, 6), zone=UTC))

    assert [event.start for event in events] == [at(date(2026, 3, 5), 8, zone=UTC)]


@pytest.mark.parametrize("zone", [ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")])
def test_floating_times_are_read_in_the_query_zone(zone: ZoneInfo):
    (run,) = source("floating.ics").events(
        at(date(2026, 6, 1), zone=zone), at(date(2026, 6, 2), zone=zone)
    )

    assert run.start == at(date(2026, 6, 1), 7, 30, zone=zone)
    assert run.end == at(date(2026, 6, 1), 8, 15, zone=zone)


# Files that cannot be read


def test_a_missing_file_gives_a_readable_error(tmp_path: Path):
    calendar = IcsCalendarSource("home", path=tmp_path / "gone.ics")

    with pytest.raises(CalendarError) as caught:
        calendar.events(at(date(2026, 1, 1)), at(date(2026, 1, 2)))

    assert (
        str(caught.value)
        == f"I couldn't read the calendar 'home': the file {tmp_path / 'gone.ics'} does not exist."
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("content", [b"<html>", b"hello world", b"", b"\x89PNG\r\n\x1a\n\x00"])
def test_a_file_that_is_not_a_calendar_gives_a_readable_error(tmp_path: Path, content: bytes):
    (tmp_path / "notes.ics").write_bytes(content)
    calendar = IcsCalendarSource("home", path=tmp_path / "notes.ics")

    with pytest.raises(
        CalendarError,
        match=r"^I couldn't read the calendar 'home': the file .*notes\.ics is not an iCalendar",
    ):
        calendar.events(at(date(2026, 1, 1)), at(date(2026, 1, 2)))


def test_a_web_page_saved_as_ics_gives_a_readable_error():
    with pytest.raises(CalendarError, match="is not an iCalendar"):
        source("not-a-calendar.ics").events(at(date(2026, 1, 1)), at(date(2026, 1, 2)))


def test_a_folder_gives_a_readable_error(tmp_path: Path):
    with pytest.raises(CalendarError, match="is a folder, not a file"):
        IcsCalendarSource("home", path=tmp_path).events(at(date(2026, 1, 1)), at(date(2026, 1, 2)))


def test_a_changed_file_is_read_again(tmp_path: Path):
    path = tmp_path / "cal.ics"
    text = (DATA / "floating.ics").read_text()
    path.write_text(text)
    calendar = IcsCalendarSource("home", path=path, refresh_minutes=60)
    window = (at(date(2026, 6, 1)), at(date(2026, 6, 2)))
    assert titles(calendar.events(*window)) == ["Morning run"]

    path.write_text(text.replace("Morning run", "Evening run"))
    later = path.stat().st_mtime + 5
    os.utime(path, (later, later))

    assert titles(calendar.events(*window)) == ["Evening run"]


# The expansion kept between processes


def _capped(tmp_path: Path) -> Path:
    """The sample calendar with a series cut short by the cap and one too dense to read."""
    every_minute = EVERY_SECOND.replace("SECONDLY", "MINUTELY").replace("20261101", "20261126")
    every_minute = every_minute.replace("very second", "very minute").replace("-second", "-minute")
    path = tmp_path / "cal.ics"
    path.write_text(
        SAMPLE.read_text().replace("END:VCALENDAR", every_minute + EVERY_SECOND + "END:VCALENDAR")
    )
    return path


def kept_source(path: Path, kept: Path, **options: object) -> IcsCalendarSource:
    options = {"max_occurrences_per_event": 50} | options
    return IcsCalendarSource("alex", path=path, kept_in=kept, **options)


def test_a_new_process_answers_from_the_kept_expansion_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path, kept = _capped(tmp_path), tmp_path / "kept" / "alex.json"
    # Up to the minute series' cut: an expansion cut short is complete only up to there.
    window = (at(date(2026, 11, 20)), at(date(2026, 11, 26), 0, 30))
    first = kept_source(path, kept).events(*window)

    def no_parse(*_: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(IcsCalendarSource, "_parse", no_parse)
    again = kept_source(path, kept).events(*window)

    assert again == first and titles(first).count("Every minute") == 30
    assert (
        again.notes == first.notes == ("I left out “Every second”: it repeats too often to read.",)
    )
    assert again.cancelled == first.cancelled
    assert [event.start.tzinfo for event in again] == [LONDON] * len(again)
    assert oct(kept.stat().st_mode & 0o777) == "0o600"  # the user's events: theirs alone


@pytest.mark.parametrize(
    "change", ["text", "zone", "name", "cap"], ids=lambda change: f"another-{change}"
)
def test_a_kept_expansion_is_used_only_for_the_same_text_zone_name_and_cap(
    tmp_path: Path, change: str
):
    path, kept = tmp_path / "cal.ics", tmp_path / "kept.json"
    path.write_text((DATA / "floating.ics").read_text())
    window = (at(date(2026, 6, 1)), at(date(2026, 6, 2)))
    kept_source(path, kept).events(*window)
    zone, options = LONDON, {}
    if change == "text":
        path.write_text((DATA / "floating.ics").read_text().replace("Morning run", "Evening run"))
    elif change == "zone":
        zone = ZoneInfo("Asia/Tokyo")
    elif change == "cap":
        options = {"max_occurrences_per_event": 49}
    calendar = kept_source(path, kept, **options)
    if change == "name":
        calendar.name = "jess"

    (run,) = calendar.events(at(date(2026, 6, 1), zone=zone), at(date(2026, 6, 2), zone=zone))

    assert run.title == ("Evening run" if change == "text" else "Morning run")
    assert run.start == at(date(2026, 6, 1), 7, 30, zone=zone)
    assert run.calendar == calendar.name


def test_a_floating_time_in_the_spring_gap_comes_back_from_the_kept_expansion_the_same(
    tmp_path: Path,
):
    path, kept = tmp_path / "cal.ics", tmp_path / "kept.json"
    path.write_text(
        (DATA / "floating.ics")
        .read_text()
        .replace("20260601T073000", "20260329T013000")
        .replace("20260601T081500", "20260329T021500")
    )
    window = (at(date(2026, 3, 29)), at(date(2026, 3, 30)))
    (parsed,) = kept_source(path, kept).events(*window)
    (read,) = kept_source(path, kept).events(*window)

    assert (read.start.replace(tzinfo=None), read.start.fold) == (
        parsed.start.replace(tzinfo=None),
        parsed.start.fold,
    )
    assert read == parsed


def test_a_damaged_kept_expansion_is_expanded_anew(tmp_path: Path):
    path, kept = tmp_path / "cal.ics", tmp_path / "kept.json"
    path.write_text((DATA / "floating.ics").read_text())
    window = (at(date(2026, 6, 1)), at(date(2026, 6, 2)))
    kept_source(path, kept).events(*window)
    kept.write_text(kept.read_text()[:100])  # a crash mid-write leaves no such file, but still

    assert titles(kept_source(path, kept).events(*window)) == ["Morning run"]


def test_a_window_ending_a_moment_later_reuses_the_expansion(monkeypatch: pytest.MonkeyPatch):
    calendar = IcsCalendarSource("alex", path=SAMPLE)
    expanded = []
    expand = calendar._expand
    monkeypatch.setattr(calendar, "_expand", lambda *a: expanded.append(a) or expand(*a))
    now = at(date(2026, 11, 25), 9)

    for seconds in (0, 1, 60, 3600):  # the words of the user's events, at each question
        moment = now + timedelta(seconds=seconds)
        calendar.events(moment - timedelta(days=31), moment + timedelta(days=90))

    assert len(expanded) == 1


# Secret addresses


@pytest.mark.vcr
@pytest.mark.default_cassette("ics-calendar.yaml")
@pytest.mark.parametrize("scheme", ["https", "webcal"])
def test_a_secret_address_is_fetched_and_expanded(scheme: str):
    calendar = IcsCalendarSource("alex", url=f"{scheme}://{ADDRESS}")

    events = calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))

    assert [(event.title, event.start, event.location) for event in events] == [
        ("Yoga class", at(date(2026, 5, 4), 19), "Hackney Yoga Studio, London")
    ]


@pytest.mark.vcr
@pytest.mark.default_cassette("ics-calendar.yaml")
def test_a_fetched_calendar_is_kept_for_refresh_minutes(vcr):
    calendar = IcsCalendarSource("alex", url=f"https://{ADDRESS}", refresh_minutes=15)

    calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))
    calendar.events(at(date(2026, 5, 11)), at(date(2026, 5, 18)))

    assert vcr.play_count == 1


@pytest.mark.vcr
@pytest.mark.default_cassette("ics-errors.yaml")
def test_an_address_answering_404_gives_a_readable_error():
    calendar = IcsCalendarSource(
        "work", url="https://calendar.example.com/ical/alex%40example.com/revoked-0000/basic.ics"
    )

    with pytest.raises(CalendarError) as caught:
        calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))

    assert (
        str(caught.value) == "I couldn't read the calendar 'work': the address answered HTTP 404."
    )
    assert "revoked-0000" not in str(caught.value)


@pytest.mark.vcr
@pytest.mark.default_cassette("ics-errors.yaml")
def test_an_address_answering_a_web_page_gives_a_readable_error():
    calendar = IcsCalendarSource("work", url="https://calendar.example.com/signin")

    with pytest.raises(
        CalendarError,
        match=r"^I couldn't read the calendar 'work': the address did not send an iCalendar",
    ):
        calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))


def test_an_address_that_does_not_answer_in_time_gives_a_readable_error():
    with silent_server() as silent:
        calendar = IcsCalendarSource(
            "work", url=f"http://127.0.0.1:{silent.port}/cal.ics", timeout=0.2
        )
        with pytest.raises(CalendarError) as caught:
            calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))

    assert (
        str(caught.value)
        == "I couldn't read the calendar 'work': the address did not answer within 0.2 seconds."
    )


def test_an_address_that_sends_a_byte_at_a_time_is_cut_off_at_the_download_deadline():
    # Each byte comes well within the per-read timeout; the whole never would in time.
    with running("tests.fakes.ics_server", "--drip", "0.2") as served:
        calendar = IcsCalendarSource("work", url=f"{served}/cal.ics", timeout=5, download_seconds=1)
        with pytest.raises(CalendarError) as caught:
            calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))

    assert str(caught.value) == (
        "I couldn't read the calendar 'work': the address did not send it whole within 1 seconds."
    )


def test_an_address_sending_more_than_the_cap_is_refused():
    with running("tests.fakes.ics_server") as served:
        calendar = IcsCalendarSource("work", url=f"{served}/cal.ics", max_download_mb=0.001)
        with pytest.raises(CalendarError) as caught:
            calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))

    assert str(caught.value) == (
        "I couldn't read the calendar 'work': it is larger than 0.001 MB (max_download_mb)."
    )


def test_an_address_that_refuses_connections_gives_a_readable_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    calendar = IcsCalendarSource("work", url=f"http://127.0.0.1:{port}/cal.ics", timeout=2)

    with pytest.raises(
        CalendarError,
        match=r"^I couldn't read the calendar 'work': I could not connect to 127\.0\.0\.1\.$",
    ):
        calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://calendar.example.com/cal.ics",
        "calendar.example.com/cal.ics",
        "https://",
        "https://[::1/cal.ics",
    ],
)
def test_a_bad_address_gives_a_readable_error_when_asked(url: str):
    calendar = IcsCalendarSource("work", url=url)

    with pytest.raises(CalendarError) as caught:
        calendar.events(at(date(2026, 5, 4)), at(date(2026, 5, 11)))

    assert str(caught.value) == (
        "I couldn't read the calendar 'work': the address must start with https:// or webcal://."
    )


# The sample calendar shipped for the demo

SAMPLE_SERIES = {
    "Team stand-up": "Online",
    "Yoga class": "Hackney Yoga Studio, London",
    "Tennis match with Sam": "Regent's Park Tennis Centre, London",
    "Lunch with Priya": "Dishoom King's Cross, London",
    "Book club": "The Lamb, Bloomsbury, London",
    "Choir rehearsal": "St John's Church, Hampstead, London",
    "Dentist check-up with Dr. Patel": "Smile Dental, 12 Upper Street, London",
    "Working from home": "",
    "Parkrun": "Hampstead Heath, London",
    "Hike with the walking club": "Box Hill, Dorking",
    "Lunch with Mum and Dad": "Oxford",
    "Sam's birthday": "",
}
ARBITRARY_MOMENTS = [
    datetime(2026, 2, 17, 8, 15, tzinfo=LONDON),
    datetime(2026, 3, 28, 22, 0, tzinfo=LONDON),
    datetime(2026, 7, 3, 14, 0, tzinfo=LONDON),
    datetime(2026, 10, 25, 0, 30, tzinfo=LONDON),
    datetime(2026, 12, 31, 23, 59, tzinfo=LONDON),
    datetime(2027, 5, 9, 12, 0, tzinfo=LONDON),
    datetime(2027, 8, 19, 9, 0, tzinfo=LONDON),
    datetime(2027, 11, 22, 18, 45, tzinfo=ZoneInfo("America/New_York")),
]


@pytest.fixture(scope="module")
def sample() -> IcsCalendarSource:
    return IcsCalendarSource("Alex", path=SAMPLE)


def test_sample_calendar_has_every_series_with_its_location(sample: IcsCalendarSource):
    # Seven weeks hold every series at least once, except the yearly birthday.
    weeks = sample.events(at(date(2026, 10, 26)), at(date(2026, 12, 14)))

    found = {event.title: event.location for event in weeks}
    assert found == SAMPLE_SERIES
    assert all(event.uid for event in weeks)
    dentist = next(event for event in weeks if event.title.startswith("Dentist"))
    assert dentist.description == "Bring the referral letter."


@pytest.mark.parametrize("now", ARBITRARY_MOMENTS, ids=lambda moment: moment.strftime("%Y-%m-%d"))
def test_sample_calendar_has_something_on_each_of_the_next_seven_days(
    sample: IcsCalendarSource, now: datetime
):
    zone = now.tzinfo
    for offset in range(7):
        day = now.date() + timedelta(days=offset)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        assert sample.events(start, start + timedelta(days=1)), f"nothing on {day}"


@pytest.mark.parametrize("now", ARBITRARY_MOMENTS, ids=lambda moment: moment.strftime("%Y-%m-%d"))
def test_sample_calendar_has_a_dentist_appointment_within_six_weeks(
    sample: IcsCalendarSource, now: datetime
):
    coming = sample.events(now, now + timedelta(days=42))

    assert "Dentist check-up with Dr. Patel" in titles(coming)


def test_sample_calendar_tennis_exceptions(sample: IcsCalendarSource):
    tennis = [
        event
        for event in sample.events(at(date(2025, 12, 15)), at(date(2026, 1, 7)))
        if event.title == "Tennis match with Sam"
    ]

    assert [(event.start, event.end) for event in tennis] == [
        (at(date(2025, 12, 16), 18, 30), at(date(2025, 12, 16), 20)),
        (at(date(2025, 12, 30), 17), at(date(2025, 12, 30), 18, 30)),
        (at(date(2026, 1, 6), 18, 30), at(date(2026, 1, 6), 20)),
    ]


def test_sample_calendar_birthday_and_working_from_home_are_all_day(sample: IcsCalendarSource):
    december = sample.events(at(date(2027, 12, 1)), at(date(2028, 1, 1)))

    (birthday,) = [event for event in december if event.title == "Sam's birthday"]
    assert (birthday.all_day, birthday.start, birthday.end) == (
        True,
        at(date(2027, 12, 5)),
        at(date(2027, 12, 6)),
    )
    fridays = [event for event in december if event.title == "Working from home"]
    assert len(fridays) == 5
    assert all(event.all_day and event.start.weekday() == 4 for event in fridays)
    # Shown as free (TRANSP:TRANSPARENT): a day at home does not make anyone busy.
    assert not any(event.busy for event in fridays)


def test_an_event_says_whether_it_is_tentative_and_whether_it_makes_you_busy(tmp_path: Path):
    (tmp_path / "status.ics").write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\n"
        "BEGIN:VEVENT\nUID:a\nDTSTART:20260301T090000Z\nDTEND:20260301T100000Z\n"
        "SUMMARY:Maybe climbing\nSTATUS:TENTATIVE\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:b\nDTSTART;VALUE=DATE:20260301\nDTEND;VALUE=DATE:20260302\n"
        "SUMMARY:Bin day\nTRANSP:TRANSPARENT\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:c\nDTSTART:20260301T110000Z\nDTEND:20260301T120000Z\n"
        "SUMMARY:Brunch\nSTATUS:CONFIRMED\nTRANSP:OPAQUE\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    events = IcsCalendarSource("s", path=tmp_path / "status.ics").events(
        at(date(2026, 3, 1)), at(date(2026, 3, 2))
    )

    status = {event.title: (event.busy, event.tentative) for event in events}
    assert status == {
        "Bin day": (False, False),
        "Maybe climbing": (True, True),
        "Brunch": (True, False),
    }


def test_sample_calendar_results_are_sorted(sample: IcsCalendarSource):
    events = sample.events(at(date(2026, 6, 1)), at(date(2026, 7, 1)))

    assert [event.start for event in events] == sorted(event.start for event in events)


def test_attendees_are_named_and_those_who_declined_left_out(tmp_path: Path):
    path = tmp_path / "guests.ics"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        "BEGIN:VEVENT\nUID:review\nSUMMARY:Review\nDTSTART:20261204T100000Z\n"
        "DTEND:20261204T110000Z\n"
        "ATTENDEE;CN=Chidi Okafor;PARTSTAT=ACCEPTED:mailto:c.okafor@example.org\n"
        "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:sam@example.org\n"
        "ATTENDEE;CN=Lee Park;PARTSTAT=DECLINED:mailto:lee@example.org\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    (event,) = IcsCalendarSource("test", path=path).events(
        at(date(2026, 12, 4)), at(date(2026, 12, 5))
    )
    assert event.attendees == ("Chidi Okafor", "sam@example.org")


def test_a_time_written_in_another_zone_keeps_its_zone(tmp_path: Path):
    path = tmp_path / "flight.ics"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        "BEGIN:VEVENT\nUID:out\nSUMMARY:Flight to Lisbon\n"
        "DTSTART;TZID=Europe/London:20261204T080000\nDTEND;TZID=Europe/Lisbon:20261204T110000\n"
        "END:VEVENT\n"
        "BEGIN:VEVENT\nUID:back\nSUMMARY:Flight to Berlin\n"
        "DTSTART;TZID=Europe/Berlin:20261204T180000\nDTEND;TZID=Europe/London:20261204T190000\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    source = IcsCalendarSource("test", path=path)
    events = source.events(at(date(2026, 12, 4)), at(date(2026, 12, 5)))

    zones = {event.title: (event.start_zone, event.end_zone) for event in events}
    assert zones == {
        "Flight to Lisbon": ("", "Europe/Lisbon"),
        "Flight to Berlin": ("Europe/Berlin", ""),
    }
