"""Time windows, subjects and intent read from questions, all against a fixed `now`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.understanding import Question, TimeWindow, understand
from bot.understanding.times import DateOrder

LONDON = ZoneInfo("Europe/London")


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=LONDON)


NOW = at(2026, 11, 25, 10)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("what's on today?", at(2026, 11, 25), at(2026, 11, 26), "today"),
        # A night runs into the small hours; an evening ends at midnight.
        ("anything tonight?", at(2026, 11, 25, 18), at(2026, 11, 26, 4), "tonight"),
        ("what's on this morning?", at(2026, 11, 25), at(2026, 11, 25, 12), "this morning"),
        ("this afternoon", at(2026, 11, 25, 12), at(2026, 11, 25, 19), "this afternoon"),
        ("this evening", at(2026, 11, 25, 18), at(2026, 11, 26), "tonight"),
        ("what's on tomorrow?", at(2026, 11, 26), at(2026, 11, 27), "tomorrow"),
        ("tomorrow morning", at(2026, 11, 26), at(2026, 11, 26, 12), "tomorrow morning"),
        ("tomorrow afternoon", at(2026, 11, 26, 12), at(2026, 11, 26, 19), "tomorrow afternoon"),
        ("tomorrow night", at(2026, 11, 26, 18), at(2026, 11, 27, 4), "tomorrow night"),
        ("tomorrow evening", at(2026, 11, 26, 18), at(2026, 11, 27), "tomorrow evening"),
        ("what was on last night?", at(2026, 11, 24, 18), at(2026, 11, 25, 4), "last night"),
        ("the day after tomorrow", at(2026, 11, 27), at(2026, 11, 28), "Friday 27 November"),
        ("what did I have yesterday?", at(2026, 11, 24), at(2026, 11, 25), "yesterday"),
        ("this weekend", at(2026, 11, 28), at(2026, 11, 30), "this weekend"),
        ("anything at the weekend?", at(2026, 11, 28), at(2026, 11, 30), "this weekend"),
        ("next weekend", at(2026, 12, 5), at(2026, 12, 7), "next weekend"),
        ("this week", NOW, at(2026, 11, 30), "this week"),
        ("next week", at(2026, 11, 30), at(2026, 12, 7), "next week"),
        ("on Friday", at(2026, 11, 27), at(2026, 11, 28), "Friday 27 November"),
        ("Friday", at(2026, 11, 27), at(2026, 11, 28), "Friday 27 November"),
        ("this Friday", at(2026, 11, 27), at(2026, 11, 28), "Friday 27 November"),
        ("next Friday", at(2026, 12, 4), at(2026, 12, 5), "Friday 4 December"),
        ("on Wednesday", at(2026, 11, 25), at(2026, 11, 26), "today"),
        ("next Wednesday", at(2026, 12, 2), at(2026, 12, 3), "Wednesday 2 December"),
        ("Thursday", at(2026, 11, 26), at(2026, 11, 27), "tomorrow"),
        ("Monday", at(2026, 11, 30), at(2026, 12, 1), "Monday 30 November"),
        (
            "Friday afternoon",
            at(2026, 11, 27, 12),
            at(2026, 11, 27, 19),
            "Friday 27 November afternoon",
        ),
        ("on 3 December", at(2026, 12, 3), at(2026, 12, 4), "Thursday 3 December"),
        ("December 3rd", at(2026, 12, 3), at(2026, 12, 4), "Thursday 3 December"),
        ("the 3rd of December", at(2026, 12, 3), at(2026, 12, 4), "Thursday 3 December"),
        ("Dec 3", at(2026, 12, 3), at(2026, 12, 4), "Thursday 3 December"),
        ("2026-12-03", at(2026, 12, 3), at(2026, 12, 4), "Thursday 3 December"),
        ("25 November", at(2026, 11, 25), at(2026, 11, 26), "today"),
        ("24 November", at(2026, 11, 24), at(2026, 11, 25), "yesterday"),
        ("3 January", at(2027, 1, 3), at(2027, 1, 4), "Sunday 3 January 2027"),
        ("3 December 2025", at(2025, 12, 3), at(2025, 12, 4), "Wednesday 3 December 2025"),
        ("29 February", at(2028, 2, 29), at(2028, 3, 1), "Tuesday 29 February 2028"),
        ("in 3 days", at(2026, 11, 28), at(2026, 11, 29), "Saturday 28 November"),
        ("in two days", at(2026, 11, 27), at(2026, 11, 28), "Friday 27 November"),
        ("this month", NOW, at(2026, 12, 1), "this month"),
        ("next month", at(2026, 12, 1), at(2027, 1, 1), "next month"),
        ("first thing tomorrow", at(2026, 11, 26), at(2026, 11, 26, 12), "tomorrow morning"),
        ("what am I up to this evening?", at(2026, 11, 25, 18), at(2026, 11, 26), "tonight"),
        (
            "before 12 on Friday",
            at(2026, 11, 27),
            at(2026, 11, 27, 12),
            "Friday 27 November morning",
        ),
        ("in a fortnight", at(2026, 12, 9), at(2026, 12, 10), "Wednesday 9 December"),
        (
            "the end of next month",
            at(2026, 12, 25),
            at(2027, 1, 1),
            "Friday 25 December to Thursday 31 December",
        ),
        (
            "am I free for lunch on Friday?",
            at(2026, 11, 27, 12),
            at(2026, 11, 27, 14),
            "Friday 27 November 12:00–14:00",
        ),
        (
            "is my morning free tomorrow?",
            at(2026, 11, 26),
            at(2026, 11, 26, 12),
            "tomorrow morning",
        ),
        (
            "everything till the end of the year",
            NOW,
            at(2027, 1, 1),
            "from now to the end of the year",
        ),
    ],
)
def test_time_windows(text: str, start: datetime, end: datetime, label: str) -> None:
    assert understand(text, NOW).window == TimeWindow(start, end, label)


@pytest.mark.parametrize(
    "text", ["hello", "when is my dentist appointment?", "what is on in the garden?", "may I?"]
)
def test_no_time_named(text: str) -> None:
    question = understand(text, NOW)
    assert (question.window, question.problem) == (None, None)


def test_tonight_starts_now_when_the_evening_has_begun() -> None:
    late = at(2026, 11, 25, 21)
    assert understand("tonight", late).window == TimeWindow(late, at(2026, 11, 26, 4), "tonight")


def test_weekend_when_already_in_it() -> None:
    sunday = at(2026, 11, 29, 9)
    assert understand("this weekend", sunday).window == TimeWindow(
        at(2026, 11, 29), at(2026, 11, 30), "this weekend"
    )
    assert understand("next weekend", sunday).window == TimeWindow(
        at(2026, 12, 5), at(2026, 12, 7), "next weekend"
    )
    # On a Sunday, "this week" is mostly the week about to start.
    assert understand("this week", sunday).window == TimeWindow(
        sunday, at(2026, 12, 7), "this week"
    )


def test_next_weekday_on_that_weekday_is_a_week_later() -> None:
    friday = at(2026, 11, 27, 9)
    next_friday = TimeWindow(at(2026, 12, 4), at(2026, 12, 5), "Friday 4 December")
    assert understand("next Friday", friday).window == next_friday
    assert understand("Friday", friday).window == TimeWindow(
        at(2026, 11, 27), at(2026, 11, 28), "today"
    )


@pytest.mark.parametrize(
    ("now", "text", "start_offset", "end_offset"),
    [
        (at(2026, 10, 23, 12), "this weekend", 1, 0),  # clocks go back Sunday 25 October 2026
        (at(2026, 10, 24, 12), "tomorrow", 1, 0),
        (at(2027, 3, 26, 12), "this weekend", 0, 1),  # clocks go forward Sunday 28 March 2027
        (at(2027, 3, 27, 12), "tomorrow", 0, 1),
    ],
)
def test_windows_across_dst_end_at_local_midnight(
    now: datetime, text: str, start_offset: int, end_offset: int
) -> None:
    window = understand(text, now).window
    assert window is not None
    for moment, hours in ((window.start, start_offset), (window.end, end_offset)):
        assert (moment.hour, moment.minute) == (0, 0)
        assert moment.utcoffset() == timedelta(hours=hours)


def test_weekend_across_dst_has_its_real_length() -> None:
    window = understand("this weekend", at(2026, 10, 23, 12)).window
    assert window is not None
    # Same-zone subtraction in Python is wall-clock, so measure the real length in UTC.
    assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=49)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("what's on 31 February?", "There is no 31 February."),
        ("anything on the 30th of February?", "There is no 30 February."),
        ("February 30", "There is no 30 February."),
        ("31 April", "There is no 31 April."),
        ("29 February 2027", "There is no 29 February in 2027."),
        ("2027-02-29", "There is no 29 February in 2027."),
        ("2026-13-01", "There is no month 13."),
    ],
)
def test_impossible_dates_are_explained_not_raised(text: str, problem: str) -> None:
    question = understand(text, NOW)
    assert (question.window, question.problem) == (None, problem)


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("when is my next dentist appointment?", "dentist"),
        ("what time is tennis on Tuesday?", "tennis"),
        ("when do I see Priya?", "Priya"),
        ("what's on tomorrow?", ""),
        ("What’s on this weekend?", ""),
        ("do I have a meeting with Sam next week?", "Sam"),
        ("when is Priya's birthday party?", "Priya's birthday party"),
        ("is the team standup on 3 December?", "team standup"),
        ("any yoga tomorrow morning?", "yoga"),
        # A holiday before a noun names an event; a meal said as a time is no subject.
        ("when's the Christmas party?", "Christmas party"),
        ("what's on Christmas Day?", ""),
        ("am I free for lunch tomorrow?", ""),
        ("lunch with Omar tomorrow?", "Omar lunch"),
    ],
)
def test_subject(text: str, subject: str) -> None:
    assert understand(text, NOW).subject == subject


@pytest.mark.parametrize(
    ("text", "next_only"),
    [
        ("when is my next dentist appointment?", True),
        ("when is my dentist appointment?", True),
        ("when's my dentist appointment?", True),
        ("when do I see Priya?", True),
        ("what's on next week?", False),
        ("anything next Friday?", False),
        ("what's on tomorrow?", False),
    ],
)
def test_next_only(text: str, next_only: bool) -> None:
    assert understand(text, NOW).next_only is next_only


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what do I have tomorrow?", True),
        ("when is my dentist appointment?", True),
        ("am I free on Friday?", True),
        ("am I busy this afternoon?", True),
        ("what's on this weekend?", True),
        ("anything on tomorrow?", True),
        ("who am I meeting today?", True),
        ("show me my calendar", True),
        ("what's on my agenda?", True),
        ("any plans for the weekend?", True),
        ("what's happening tomorrow?", True),
        ("will it rain at my tennis match?", True),
        ("what's the weather tomorrow?", False),
        ("hello", False),
        ("tell me a joke", False),
        ("what is 2+2?", False),
        ("will it rain tomorrow?", False),
        ("what time is it?", False),
        ("what've I got first thing tomorrow?", True),
        ("wat's on wednesdy", True),
        ("what's the craic on Saturday week?", True),
        ("how do I make mulled wine?", False),
        ("how do I cancel a direct debit?", False),
        # One occasion asked for by name, in no event: "none found", not "out of scope".
        ("when's the wedding?", True),
        ("where's the gig?", True),
        ("what time is the school play?", True),
        ("when was the battle of hastings?", False),
        ("where is the nearest pharmacy to the station?", False),
    ],
)
def test_asks_about_personal_event(text: str, expected: bool) -> None:
    assert (understand(text, NOW).kind == "calendar") is expected


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("do I have anything at 8 tomorrow?", "busy"),
        ("have I got anything at 9 on Monday?", "busy"),
        ("can I do 7:30 tonight?", "free"),
        ("what's on at 10 tomorrow?", "list"),
    ],
)
def test_a_question_about_a_moment_asks_whether_it_is_free(text: str, asks: str) -> None:
    assert understand(text, NOW).asks == asks


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("anything between now and the end of December?", NOW, at(2027, 1, 1)),
        ("what's on until the end of the year?", NOW, at(2027, 1, 1)),
        ("how many times since the start of November?", at(2026, 11, 1), NOW),
        ("what have I done since Monday?", at(2026, 11, 23), NOW),
        ("anything after the 5th of December?", at(2026, 12, 6), at(2027, 1, 31)),
        ("what's on from the 5th of December?", at(2026, 12, 5), at(2027, 1, 30)),
        ("the first weekend of January", at(2027, 1, 2), at(2027, 1, 4)),
        ("the last weekend of November", at(2026, 11, 28), at(2026, 11, 30)),
        ("what was I doing on the 3rd of November?", at(2026, 11, 3), at(2026, 11, 4)),
        ("what's on from the 20th until Christmas?", at(2026, 12, 20), at(2026, 12, 27)),
        ("anything before the new year?", NOW, at(2027, 1, 1)),
        ("anything this side of Christmas?", NOW, at(2026, 12, 25)),
    ],
)
def test_open_and_old_fashioned_spans(text: str, start: datetime, end: datetime) -> None:
    window = understand(text, NOW).window
    assert window is not None and (window.start, window.end) == (start, end), window


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("am I free at 2 o'clock on Friday?", at(2026, 11, 27, 14)),
        # Longer than Duckling's window of eight words: read across two of them.
        (
            "could you check whether I am free on Friday at a quarter past eight in the morning",
            at(2026, 11, 27, 8) + timedelta(minutes=15),
        ),
    ],
)
def test_a_moment_said_the_long_way(text: str, moment: datetime) -> None:
    assert understand(text, NOW).moment == moment


@pytest.mark.parametrize(
    "text",
    [
        "Would you mind telling me where the choir practises?",
        "Sorry to bother you, but is there anything on at 9 tomorrow?",
        "I'd be ever so grateful if you could tell me when the plumber is coming.",
        "If it's not too much trouble, what's on this coming Tuesday?",
    ],
)
def test_courtesies_name_no_event(text: str) -> None:
    subject = understand(text, NOW).subject.lower().split()
    courtesies = {"mind", "telling", "sorry", "bother", "grateful", "ever", "trouble"}
    assert not courtesies & set(subject), subject


def test_an_airport_code_names_the_place_it_serves() -> None:
    from bot.understanding.airports import places
    from bot.understanding.matching import significant

    assert {"delhi", "india"} <= set(significant(places("Flight AI 188 YYZ → DEL")))
    assert {"toronto", "canada"} <= set(significant(places("YYZ")))
    # Only three capitals standing alone are a code: "Del Mar", "MAT137" and "del" are not.
    assert places("Dinner in Del Mar after MAT137, del") == ""


@pytest.mark.parametrize(
    ("title", "country"),
    [
        ("Flight OS 1695 Vienna → Kittilä", "finland"),  # an airport's city
        ("Train to Paris", "france"),  # the zone's city, not Paris, Texas
        ("Flight to Rome", "italy"),
        ("Ferry to Split", "croatia"),
        ("Flight AA 1432 ORD → MCO", "florida"),  # a code's state
        ("BA117 London to New York", "america"),
        ("Flight JQ35 Melbourne → Denpasar", "bali"),  # a city's island, as the table names it
    ],
)
def test_a_city_names_its_country(title: str, country: str) -> None:
    from bot.understanding.airports import places
    from bot.understanding.matching import significant

    assert country in significant(places(title))


def test_a_city_two_countries_share_alike_names_neither() -> None:
    from bot.understanding.airports import places

    # Birmingham, England and Birmingham, Alabama have one airport each.
    assert places("Flight to Birmingham") == ""
    assert places("Flight to Kittilä", countries=False) == ""


def test_where_a_journey_goes_keeps_its_to() -> None:
    assert understand("When is the flight to Finland?", NOW).subject == "flight to Finland"
    assert understand("when do we fly home to the States", NOW).subject == "flight home to States"
    # Not a journey: "to" says nothing.
    assert understand("how do I get to the concert?", NOW).subject == "concert"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # "did" can only look back: the 3rd of December just gone, a year ago.
        ("what did I do on 3 December?", at(2025, 12, 3), at(2025, 12, 4)),
        ("what did I have in December?", at(2025, 12, 1), at(2026, 1, 1)),
        ("what happened the week of 16 November?", at(2026, 11, 16), at(2026, 11, 23)),
        # "was" may be "what was on again?": the nearer of the two.
        ("what was on 3 December?", at(2026, 12, 3), at(2026, 12, 4)),
        ("what's on the week of 7 December?", at(2026, 12, 7), at(2026, 12, 14)),
    ],
)
def test_a_date_asked_about_in_the_past_tense_is_the_last_one(
    text: str, start: datetime, end: datetime
) -> None:
    window = understand(text, NOW).window
    assert window is not None and (window.start, window.end) == (start, end)


def test_a_name_is_also_its_initials() -> None:
    from bot.understanding.matching import event_words

    assert "pr" in event_words("Puerto Rico – Easter with Mami")
    assert "hr" in event_words("Call with Human Resources")
    assert "lmc" in event_words("Lakeshore Medical Center")
    assert "wc" not in event_words("walk the dog, clean up")  # no names, no initials


def test_a_name_before_a_title_owns_what_follows() -> None:
    from bot.understanding.matching import owned_by_another
    from integrations.calendar import Event

    def titled(title: str) -> Event:
        return Event(title, NOW, NOW + timedelta(hours=1))

    assert not owned_by_another(titled("Kavya didi's wedding"), "wedding", "kavya")
    assert not owned_by_another(titled("Aunt Mary's party"), "party", "mary")
    assert owned_by_another(titled("Sam's wedding"), "wedding", "kavya")


@pytest.mark.parametrize(
    ("asked", "title", "found"),
    [
        ("mom", "Call with Mami (FaceTime)", True),
        ("mom", "Mum's birthday", True),
        ("mum", "Mom – dentist", True),
        ("papi", "Dinner with Dad", True),
        ("barber", "Haircut – Salon Luz", True),
        ("hairdressers", "Barber", True),
        ("movie", "Cinema with Jo", True),
        ("soccer", "Footy training", True),
        ("physio", "PT – knee", True),
        ("church", "Mass – St. Hedwig", True),
        ("working", "Night shift – MICU", True),
        # Another meaning, or only a look-alike: no match.
        ("church", "Car service", False),
        ("mom", "Moment of truth", False),
        ("gym", "Gymnastics gala", False),
    ],
)
def test_a_word_finds_other_words_for_the_same_thing(asked: str, title: str, found: bool) -> None:
    from bot.understanding.matching import Significance, score
    from integrations.calendar import Event

    event = Event(title, NOW, NOW + timedelta(hours=1))
    assert bool(score(event, [asked], Significance.of([event]))) == found


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Change choir to half past seven please.", "write"),
        ("What's the best way to get rid of aphids on my roses?", "other"),
        ("whats a good recipe for pumpkin pie", "other"),
        ("How many kilometres is it from Auckland to Matakana?", "other"),
        ("Give me a rundown of the next three weeks.", "calendar"),
        ("Thank you dear, that's very kind.", "small_talk"),
        ("Kia ora!", "small_talk"),
        ("Cheers, that's all for now.", "small_talk"),
    ],
)
def test_the_kind_of_a_polite_persons_message(text: str, kind: str) -> None:
    assert understand(text, NOW).kind == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("omg when is the dentist thing, i totally forgot", "calendar"),
        ("when is the dentist, i totally forgot", "calendar"),
        # The aside does not make a question of what is none.
        ("best pizza in brooklyn, i totally forgot", "other"),
    ],
)
def test_an_aside_after_the_question_does_not_decide_its_kind(text: str, kind: str) -> None:
    from bot.understanding.matching import Significance
    from integrations.calendar import Event

    events = [Event("Dentist – Dr. Liang", NOW, NOW + timedelta(hours=1))]
    assert understand(text, NOW, significance=lambda: Significance.of(events)).kind == kind


def test_small_talk_in_chat_spellings() -> None:
    from bot.small_talk import small_talk

    assert small_talk("what can u do") == ("about", "what can you do")
    assert small_talk("ty sm!!") == ("thanks", "ty")


@pytest.mark.parametrize(
    "text",
    ["who's coming to the review?", "who else is at the dinner on friday", "who am i meeting at 3"],
)
def test_who_is_invited_is_asked_for(text: str) -> None:
    assert understand(text, NOW).asks == "who"


def test_a_title_that_only_describes_the_word_asked_ranks_below_one_that_is_it() -> None:
    from bot.understanding.matching import Significance, heads, score
    from integrations.calendar import Event

    summit = Event("TechSummit Europe", NOW, NOW + timedelta(days=2), all_day=True)
    drinks = Event("Summit drinks", NOW, NOW + timedelta(hours=2))
    owned = Event("Priya's wedding", NOW, NOW + timedelta(days=1), all_day=True)
    lunch = Event("wedding lunch", NOW, NOW + timedelta(hours=2))
    code = Event("CSC108 final", NOW, NOW + timedelta(hours=3))
    events = [summit, drinks, owned, lunch, code]
    significance = Significance.of(events)
    assert heads(summit, "conference") and not heads(drinks, "conference")
    assert heads(owned, "wedding") and not heads(lunch, "wedding")
    assert heads(code, "csc108")  # a code is a name, never a describing word
    headed = {"conference", "wedding"}
    for whole, part, asked in ((summit, drinks, "conference"), (owned, lunch, "wedding")):
        assert score(whole, [asked], significance, headed) > score(
            part, [asked], significance, headed
        )
    # Asked for the whole of it, the describing title is the one: "the summit drinks".
    assert score(drinks, ["conference", "drinks"], significance, headed) > score(
        summit, ["conference", "drinks"], significance, headed
    )


def test_a_holiday_is_on_the_day_the_users_country_keeps_it() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    now = datetime(2027, 8, 9, 9, 5, tzinfo=kolkata)
    # Duckling dates Ganesh Chaturthi 2027 to 3 September; India's states keep 4 September.
    window = understand("what's on Ganesh Chaturthi?", now).window
    assert window is not None and window.start == datetime(2027, 9, 4, tzinfo=kolkata)
    # Where the lists agree with Duckling, its day stands.
    window = understand("anything on Independence Day?", now).window
    assert window is not None and window.start == datetime(2027, 8, 15, tzinfo=kolkata)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Thanks, that helps a lot", "thanks"),
        ("thank you so much, that was really helpful!", "thanks"),
        ("You've been a great help, cheers", "thanks"),
        ("brilliant, ta", "thanks"),
        ("perfect, thanks!", "thanks"),
        ("Thanks heaps mate, see you later", "thanks"),
        ("good to know, thanks", "thanks"),
        ("Bye, have a nice evening", "goodbye"),
        ("ok, have a really lovely rest of your weekend", "goodbye"),
        ("night night", "goodbye"),
        ("great, talk to you soon", "goodbye"),
        ("see you on Monday!", "goodbye"),
        ("Merry Christmas!", "greeting"),
    ],
)
def test_pleasantries_after_small_talk_are_small_talk(text: str, kind: str) -> None:
    from bot.small_talk import small_talk

    talk = small_talk(text)
    assert talk is not None and talk[0] == kind
    assert understand(text, NOW).kind == "small_talk"


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("Thanks, what do I have this evening?", "what do I have this evening?"),
        ("Have a nice evening planned?", "Have a nice evening planned?"),
        ("thanks, is that helpful for the dentist?", "is that helpful for the dentist?"),
    ],
)
def test_a_pleasantry_in_a_question_leaves_it_a_question(text: str, rest: str) -> None:
    from bot.small_talk import small_talk, without_small_talk

    assert small_talk(text) is None
    assert without_small_talk(text) == rest


@pytest.mark.parametrize(
    ("text", "order", "day"),
    [
        ("What is on 21.12?", "day-first", date(2026, 12, 21)),
        ("what's on 12.21?", "month-first", date(2026, 12, 21)),
        ("what about 3.4?", "day-first", date(2027, 4, 3)),
        ("what about 3.4?", "month-first", date(2027, 3, 4)),
        ("anything on 9.12", "month-first", date(2027, 9, 12)),
        ("anything on 5.10", "day-first", date(2027, 10, 5)),
    ],
)
def test_a_day_and_month_without_a_year_are_a_date_in_the_users_order(
    text: str, order: DateOrder, day: date
) -> None:
    window = understand(text, NOW, date_order=order).window
    assert window is not None and window.start.date() == day
    assert window.end - window.start == timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("am I free at 9.30?", "day-first"),
        ("what about 10.15?", "day-first"),
        ("anything at 21.12?", "month-first"),
        ("free from 10.05 to 10.40?", "day-first"),
        ("anything on 9.30?", "day-first"),  # no 30th month: the time, with "on" as in "on at"
    ],
)
def test_a_clock_time_with_a_dot_stays_a_time(text: str, order: DateOrder) -> None:
    window = understand(text, NOW, date_order=order).window
    assert window is not None and window.end - window.start < timedelta(days=1)


@pytest.mark.parametrize(
    "text",
    ["How often is swimming in January?", "how frequently do I see Sophie?", "how often's yoga"],
)
def test_how_often_counts(text: str) -> None:
    question = understand(text, NOW)
    assert question.asks == "count"
    assert "often" not in question.subject and "frequently" not in question.subject


def test_a_question_about_what_only_notes_say_asks_for_the_notes() -> None:
    from bot.understanding.matching import Significance
    from integrations.calendar import Event

    events = [
        Event("Music school – Jonas (piano)", NOW, NOW, description="Teacher: Frau Berger."),
        Event("Deadline: Hofer contract", NOW, NOW, description="42 pages. Send by 18:00."),
        Event("Parent-teacher meeting", NOW, NOW, description="Door code 4711#, 2nd floor."),
    ]

    def asked(text: str) -> tuple[str, str, str]:
        question = understand(text, NOW, significance=lambda: Significance.of(events))
        return question.kind, question.asks, question.subject

    assert asked("Who is Jonas's piano teacher?")[:2] == ("calendar", "notes")
    assert asked("How many pages is the Hofer contract?")[:2] == ("calendar", "notes")
    # "code" names nothing alone; beside "door", which only notes have, it says what to find.
    assert asked("What's the door code for the school?") == (
        "calendar",
        "notes",
        "door code school",
    )
    # Not about the calendar: words its events do not have.
    assert asked("Who is the president of Austria?")[0] == "other"
    assert asked("How many meetings next week?")[1] == "count"


def test_a_time_after_or_before_one_of_the_users_events() -> None:
    from bot.understanding.matching import Significance
    from integrations.calendar import Event

    events = [
        Event("Dentist – Dr. Liang", NOW, NOW + timedelta(hours=1)),
        Event("School holidays", NOW, NOW + timedelta(days=14)),
        Event("Piano lesson", NOW, NOW + timedelta(hours=1)),
    ]

    def asked(text: str) -> Question:
        return understand(text, NOW, significance=lambda: Significance.of(events))

    lesson = asked("When is the next piano lesson after the holidays?")
    assert (lesson.subject, lesson.after, lesson.before) == ("piano lesson", "holidays", "")
    monday = asked("wat am i doing after the dentist on monday")
    assert monday.after == "dentist" and monday.window is not None
    assert monday.window.label.endswith("after the dentist")
    assert asked("anything before the dentist?").before == "dentist"
    # A time, not an event: "after 7pm", "before Christmas".
    assert not asked("anything after 7pm?").after
    assert not asked("anything before christmas?").before
    # About that event itself: its notes, not the time before it.
    assert not asked("what do I need to do before the dentist?").before
    assert asked("do we travel anywhere in the holidays?").during
    assert not asked("what's on in the morning?").during
