"""The weekly hours grid: what it accepts, what it refuses and where it says so."""

from typing import Any

import pytest

from apps.setup.hours import WeeklyHoursForm, copy_monday, grid_initial

SPLIT_DAY = {
    "hours_mon_1_start": "09:00",
    "hours_mon_1_end": "13:00",
    "hours_mon_2_start": "17:00",
    "hours_mon_2_end": "20:00",
}


def test_two_intervals_on_a_day_make_a_lunch_break() -> None:
    form = WeeklyHoursForm(SPLIT_DAY)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["weekly_hours"] == [
        {"weekday": 0, "start": "09:00", "end": "13:00"},
        {"weekday": 0, "start": "17:00", "end": "20:00"},
    ]


def test_an_empty_grid_means_no_hours() -> None:
    form = WeeklyHoursForm({})

    assert form.is_valid()
    assert form.cleaned_data["weekly_hours"] == []


def test_intervals_typed_out_of_order_are_sorted() -> None:
    form = WeeklyHoursForm(
        {
            "hours_fri_1_start": "17:00",
            "hours_fri_1_end": "20:00",
            "hours_fri_2_start": "08:30",
            "hours_fri_2_end": "12:00",
        }
    )

    assert form.is_valid()
    assert [i["start"] for i in form.cleaned_data["weekly_hours"]] == ["08:30", "17:00"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"hours_tue_1_start": "13:00", "hours_tue_1_end": "09:00"},
            "hours_tue_1_end",
            "Tuesday: the end must be after the start.",
        ),
        (
            {"hours_tue_1_start": "09:00", "hours_tue_1_end": "09:00"},
            "hours_tue_1_end",
            "Tuesday: the end must be after the start.",
        ),
        (
            {"hours_wed_1_start": "09:00"},
            "hours_wed_1_end",
            "Wednesday: give the time this interval ends.",
        ),
        (
            {"hours_wed_2_end": "18:00"},
            "hours_wed_2_start",
            "Wednesday: give the time this interval starts.",
        ),
        (
            {
                "hours_thu_1_start": "09:00",
                "hours_thu_1_end": "13:00",
                "hours_thu_2_start": "12:30",
                "hours_thu_2_end": "15:00",
            },
            "hours_thu_2_start",
            "Thursday: this interval overlaps another one.",
        ),
        (
            {"hours_sun_1_start": "25:00", "hours_sun_1_end": "26:00"},
            "hours_sun_1_start",
            "Enter a valid time.",
        ),
        (
            {"hours_sat_1_start": "9am", "hours_sat_1_end": "1pm"},
            "hours_sat_1_start",
            "Enter a valid time.",
        ),
    ],
)
def test_bad_intervals_are_refused_next_to_their_field(
    data: dict[str, str], field: str, message: str
) -> None:
    form = WeeklyHoursForm(data)

    assert not form.is_valid()
    assert message in form.errors[field]


def test_copying_monday_fills_tuesday_to_saturday_and_leaves_sunday() -> None:
    copied = copy_monday({**SPLIT_DAY, "hours_sun_1_start": ""}, "weekdays")

    form = WeeklyHoursForm(copied)
    assert form.is_valid()
    days = sorted({i["weekday"] for i in form.cleaned_data["weekly_hours"]})
    assert days == [0, 1, 2, 3, 4, 5]
    assert len(form.cleaned_data["weekly_hours"]) == 12


def test_copying_monday_to_every_day_includes_sunday() -> None:
    form = WeeklyHoursForm(copy_monday(SPLIT_DAY, "all"))

    assert form.is_valid()
    assert len(form.cleaned_data["weekly_hours"]) == 14


def test_stored_hours_come_back_into_the_grid() -> None:
    hours: list[dict[str, Any]] = [
        {"weekday": 0, "start": "09:00", "end": "13:00"},
        {"weekday": 0, "start": "17:00", "end": "20:00"},
        {"weekday": 6, "start": "10:00", "end": "12:00"},
    ]

    initial = grid_initial(hours)

    assert WeeklyHoursForm(initial).is_valid()
    assert initial == {**SPLIT_DAY, "hours_sun_1_start": "10:00", "hours_sun_1_end": "12:00"}
