"""console/request_turns.py: a few HTTP requests run at once, the others wait for a turn, at
most the queue time; a request that blocks on purpose gives its turn back meanwhile."""

from __future__ import annotations

import threading

from console.request_turns import RequestTurns, _current, turn_given_back

BOUND = 30.0  # seconds: a bound for a failure, never reached when it works


def test_a_request_waits_for_a_turn_and_gets_the_one_given_back():
    turns = RequestTurns(concurrency=1, queue_seconds=BOUND)
    inside, give_back, second_ran = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with turns.turn():
            inside.set()
            assert give_back.wait(BOUND)
            with turn_given_back():
                assert second_ran.wait(BOUND), "the turn given back was not taken"
            assert _current.turns is turns  # its turn again once the wait is over

    def second() -> None:
        with turns.turn():
            assert _current.turns is turns  # a real turn, not one after the queue time
            second_ran.set()

    one = threading.Thread(target=first)
    one.start()
    assert inside.wait(BOUND)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive() and not second_ran.is_set()  # waiting: the only turn is taken
    give_back.set()
    two.join(BOUND)
    one.join(BOUND)
    assert second_ran.is_set() and not one.is_alive() and not two.is_alive()


def test_past_the_queue_time_a_request_runs_without_a_turn():
    turns = RequestTurns(concurrency=1, queue_seconds=0.0)
    ran_without: list[bool] = []

    def later_request() -> None:
        with turns.turn():
            ran_without.append(_current.turns is None)

    with turns.turn():
        worker = threading.Thread(target=later_request)
        worker.start()
        worker.join(BOUND)
    assert ran_without == [True]
    with turns.turn():  # the turn it never had was not given back: still one
        assert _current.turns is turns


def test_outside_a_request_there_is_nothing_to_give_back():
    with turn_given_back():
        assert _current.turns is None
