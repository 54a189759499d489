"""Service faults on a real stack: Redis, PostgreSQL, the worker and an SMS provider go away
(or hang) under a running web server and worker; writes keep their word and the read models
catch up when the part returns. The measured times are printed in the run's summary
("fault timings") and recorded in docs/FAULT-DOMAINS.md."""

import datetime as dt
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from tests.faults.clusters import MigratedImage
from tests.faults.stack import TIMINGS, Answer, Stack, running_stack, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def stack(migrated_image: MigratedImage) -> Iterator[Stack]:
    started = time.monotonic()
    with running_stack(migrated_image) as running:
        TIMINGS["stack set-up (copy of the migrated image, tenant, web, worker)"] = (
            time.monotonic() - started
        )
        yield running


class Desk:
    """Books and pays through the API like a front desk, one free slot after another."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        zone = ZoneInfo(stack.tenant["timezone"])
        self.day = dt.datetime.now(zone).date() + dt.timedelta(days=2)
        self.next_start = dt.datetime.combine(self.day, dt.time(6, 0), zone)
        self.acknowledged: list[int] = []
        self.payments: list[int] = []

    def book(self) -> Answer:
        start, self.next_start = self.next_start, self.next_start + dt.timedelta(minutes=15)
        patients = self.stack.tenant["patients"]
        answer = self.stack.call("POST", "/api/v1/appointments/", {
            "doctor": self.stack.tenant["doctor"],
            "patient": patients[len(self.acknowledged) % len(patients)],
            "start": start.isoformat(), "confirm_duplicate": True,
        })  # fmt: skip
        if answer.status == 201:
            self.acknowledged.append(answer.body["id"])
        return answer

    def pay(self, appointment: int) -> Answer:
        answer = self.stack.call(
            "POST", f"/api/v1/appointments/{appointment}/payments/",
            {"kind": "deposit", "amount": "100.00", "method": "cash"},
        )  # fmt: skip
        if answer.status == 201:
            self.payments.append(answer.body["id"])
        return answer

    def board(self) -> Answer:
        return self.stack.call(
            "GET", f"/api/v1/branches/{self.stack.tenant['branch']}/board/?date={self.day}"
        )

    def board_is_current(self) -> bool:
        board = self.board()
        if board.status != 200:
            return False
        shown = {row["id"] for row in board.body["appointments"]}
        return shown >= set(self.acknowledged)

    def each_acknowledged_write_is_stored_once(self) -> None:
        if self.acknowledged:
            ids = ",".join(map(str, self.acknowledged))
            assert self.stack.count("scheduling_appointment", f"id IN ({ids})") == len(
                self.acknowledged
            )
        assert self.stack.count("scheduling_appointment") == len(self.acknowledged)
        assert self.stack.count("billing_payment") == len(self.payments)


@pytest.fixture(scope="module")
def desk(stack: Stack) -> Desk:
    return Desk(stack)


def test_with_redis_stopped_writes_commit_and_say_so_and_the_board_catches_up_after(
    stack: Stack, desk: Desk
) -> None:
    with stack.board_stream() as live:
        assert desk.book().status == 201
        live.read_until(b"event: board", 15)  # pushes flow before the outage
        wait_until(desk.board_is_current, 15, "the board before the outage")

        stack.redis.stop()
        try:
            health = stack.call("GET", "/healthz")
            assert health.status == 503
            assert health.body["redis"].startswith("error") and health.body["database"] == "ok"

            during = [desk.book() for _ in range(5)]
            paid = desk.pay(desk.acknowledged[-1])
            signed_in = stack.call("POST", "/api/v1/auth/token/", {
                "username": "owner@fault.example.com", "password": "correct-horse-battery-9",
            })  # fmt: skip
            refused = stack.call("POST", "/api/v1/auth/token/", {
                "username": "owner@fault.example.com", "password": "wrong",
            })  # fmt: skip
            board = desk.board()

            assert [answer.status for answer in during] == [201] * 5
            assert paid.status == 201
            assert signed_in.status == 200 and refused.status == 400
            assert board.status == 200  # read from PostgreSQL; the read model waits for the worker
            assert max(answer.seconds for answer in [*during, paid, signed_in, board]) < 3
        finally:
            stack.redis.start()
        returned = time.monotonic()

        desk.each_acknowledged_write_is_stored_once()
        live.read_until(b"event: board", 15)  # the web process listens again: boards re-read
        TIMINGS["Redis back -> open boards told to re-read"] = time.monotonic() - returned
        assert desk.book().status == 201  # the first write after Redis returns
        wait_until(desk.board_is_current, 60, "the board after Redis returned")
        TIMINGS["Redis back -> board current (next write wakes the run)"] = (
            time.monotonic() - returned
        )
        live.read_until(b"event: board", 15)  # and the run's push reaches the board
        TIMINGS["Redis back -> live push of that write"] = time.monotonic() - returned
    assert stack.call("GET", "/healthz").status == 200


def test_after_a_postgresql_restart_requests_succeed_and_projections_are_current_in_2_s(
    stack: Stack, desk: Desk
) -> None:
    stack.postgres.stop()
    try:
        down = stack.call("GET", "/healthz")
        assert down.status == 503 and down.body["database"].startswith("error")
    finally:
        stack.postgres.start()
    returned = time.monotonic()

    after = [desk.book() for _ in range(5)]
    wait_until(desk.board_is_current, 10, "the board after PostgreSQL returned")
    current = time.monotonic() - returned
    TIMINGS["PostgreSQL back -> 5 bookings acknowledged and the board current"] = current
    TIMINGS["PostgreSQL back -> slowest of those bookings"] = max(a.seconds for a in after)

    assert [answer.status for answer in after] == [201] * 5
    assert current < 2
    desk.each_acknowledged_write_is_stored_once()


def test_a_killed_worker_loses_nothing_acknowledged_and_catches_up_when_restarted(
    stack: Stack, desk: Desk
) -> None:
    stack.freeze_worker()
    during = [desk.book()]  # its run request goes to the frozen worker, which never acks it
    time.sleep(0.5)
    stack.kill_worker()
    during += [desk.book() for _ in range(2)]
    assert [answer.status for answer in during] == [201] * 3
    assert not desk.board_is_current()  # nobody projects while the worker is away

    restarted = time.monotonic()
    ready = stack.start_worker()
    wait_until(desk.board_is_current, 30, "the board after the worker restarted")
    TIMINGS["worker start -> ready"] = ready
    TIMINGS["worker start -> board current"] = time.monotonic() - restarted
    desk.each_acknowledged_write_is_stored_once()


def test_a_hanging_sms_provider_holds_no_request_and_stops_no_other_work(
    stack: Stack, desk: Desk
) -> None:
    accepted_before = stack.provider.accepted
    codes = [
        stack.call("POST", "/api/v1/patient/auth/otp/", {"phone": f"98000{i:05d}"})
        for i in range(3)
    ]
    wait_until(lambda: stack.provider.accepted > accepted_before, 15, "a call to the provider")

    started = time.monotonic()
    during = [desk.book() for _ in range(3)]
    wait_until(desk.board_is_current, 15, "the board while the provider hangs")
    TIMINGS["provider hanging: 3 bookings -> board current"] = time.monotonic() - started

    assert [answer.status for answer in codes] == [202] * 3
    assert [answer.status for answer in during] == [201] * 3
    assert max(answer.seconds for answer in [*codes, *during]) < 1.5
    assert stack.worker is not None and stack.worker.poll() is None
