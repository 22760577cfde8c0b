"""The autoscaler's decision logic (fleet/services/autoscaler.py), without Kafka.

`decide` is pure (figures, history, thresholds, time in; a verdict out). `record_evaluation`
takes an observation as figures and does the rest against the database: history, cooldown,
busy, dry-run, the record and its pruning. The integration test drives the real thing.
"""

import dataclasses
import datetime as dt

import pytest

from fleet.models import AutoscaleDecision, FleetOperation
from fleet.services.autoscaler import (
    HIGH,
    LOW,
    NORMAL,
    UNKNOWN,
    BrokerFigures,
    CellLoad,
    History,
    Thresholds,
    classify,
    decide,
    prune_decisions,
    record_evaluation,
)
from tests.factories import CellFactory

Action = AutoscaleDecision.Action
T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
MB = 1_000_000
GB = 1_000_000_000

THRESHOLDS = Thresholds(
    broker_ingress_bytes_per_sec=10 * MB,
    broker_egress_bytes_per_sec=20 * MB,
    partitions_per_broker=1000,
    disk_fraction=0.8,
    high_watermark=0.8,
    low_watermark=0.3,
    window_seconds=300,
    scale_down_window_seconds=900,
    cooldown_seconds=600,
    min_brokers=3,
    max_brokers=6,
    max_gap_seconds=150,
)


def load(
    *,
    brokers=3,
    ingress=0.0,
    egress=0.0,
    replicas=100,
    log_bytes=GB,
    disk=100 * GB,
    removable=None,
    known=True,
):
    """A cell of `brokers` brokers; `ingress`/`egress` are cell totals, the rest per broker."""
    return CellLoad(
        brokers=brokers,
        ingress_bytes_per_sec=ingress if known else None,
        egress_bytes_per_sec=egress if known else None,
        per_broker=tuple(
            BrokerFigures(n, replicas, log_bytes, disk) for n in range(1, brokers + 1)
        ),
        removable_broker_id=removable,
        problems=() if known else ("no throughput sample yet",),
    )


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def run(loads_by_second, history=None, thresholds=THRESHOLDS):
    """Evaluate a sequence of (second, load); each verdict's streak feeds the next history."""
    history = history or History()
    verdicts = []
    for second, observed in loads_by_second:
        verdict = decide(load=observed, history=history, thresholds=thresholds, now=at(second))
        verdicts.append(verdict)
        history = History(
            last_evaluated_at=at(second),
            high_since=verdict.high_since,
            low_since=verdict.low_since,
            last_scaled_at=at(second)
            if verdict.action in (Action.SCALE_UP, Action.SCALE_DOWN)
            else history.last_scaled_at,
        )
    return verdicts


# --- levels ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observed", "level", "words"),
    [
        (load(ingress=3 * 8 * MB), HIGH, "ingress at 80% of capacity"),
        (load(egress=3 * 19 * MB), HIGH, "egress at 95%"),
        (load(replicas=900), HIGH, "partitions at 90%"),
        # 72 GB of a 100 GB volume: 0.72 / 0.8 = 90% of what counts as full.
        (load(log_bytes=72 * GB), HIGH, "disk at 90%"),
        (load(ingress=3 * 5 * MB), NORMAL, "ingress at 50% of capacity"),
        (load(ingress=3 * 1 * MB), LOW, "low watermark 30%"),
        (CellLoad(brokers=3, problems=("no throughput sample yet",)), UNKNOWN, "no throughput"),
    ],
)
def test_each_figure_is_divided_by_its_capacity_per_broker(observed, level, words):
    got, why = classify(observed, THRESHOLDS)
    assert got == level
    assert words in why


def test_a_high_figure_counts_even_when_others_are_unknown_but_low_needs_them_all():
    rates_unknown = load(known=False, replicas=950)
    assert classify(rates_unknown, THRESHOLDS)[0] == HIGH
    idle_but_unknown = load(known=False, replicas=10)
    level, why = classify(idle_but_unknown, THRESHOLDS)
    assert level == NORMAL and "ingress, egress unknown" in why


def test_low_is_not_low_when_one_broker_fewer_would_be_high():
    # 4 brokers at 30% of the partition budget: 3 would be at 40%: still low. With a high
    # watermark of 0.35 it would not be.
    observed = load(brokers=4, replicas=300, removable=4)
    assert classify(observed, THRESHOLDS)[0] == LOW
    tight = dataclasses.replace(THRESHOLDS, high_watermark=0.35)
    level, why = classify(observed, tight)
    assert level == NORMAL and "with one broker fewer" in why


# --- window --------------------------------------------------------------------------------------


def test_scale_up_only_after_the_high_level_lasted_the_window():
    hot = load(ingress=3 * 9 * MB)
    verdicts = run([(0, hot), (60, hot), (120, hot), (240, hot), (300, hot)])
    assert [v.action for v in verdicts] == [Action.NONE] * 4 + [Action.SCALE_UP]
    assert "for 240 s of the 300 s window" in verdicts[3].reason
    assert verdicts[0].high_since == at(0) == verdicts[3].high_since
    assert "add a broker to the 3" in verdicts[4].reason
    # Acting ends the streak: the next action needs a whole new window.
    assert verdicts[4].high_since is None


def test_one_evaluation_below_the_high_watermark_restarts_the_window():
    hot, calm = load(ingress=3 * 9 * MB), load(ingress=3 * 5 * MB)
    seconds = (0, 120, 180, 240, 360, 480, 540)
    verdicts = run([(s, calm if s == 180 else hot) for s in seconds])
    assert [v.action for v in verdicts] == [Action.NONE] * 6 + [Action.SCALE_UP]
    assert verdicts[2].high_since is None and verdicts[3].high_since == at(240)


def test_a_gap_in_the_evaluations_restarts_the_window():
    hot = load(ingress=3 * 9 * MB)
    # 0 → 200 s is longer than max_gap_seconds (150): what happened in between was not seen.
    verdicts = run([(0, hot), (200, hot), (350, hot), (500, hot)])
    assert verdicts[1].high_since == at(200)
    assert [v.action for v in verdicts] == [Action.NONE] * 3 + [Action.SCALE_UP]


def test_unknown_figures_never_scale_and_end_the_streaks():
    hot = load(ingress=3 * 9 * MB)
    verdicts = run([(0, hot), (120, load(known=False, replicas=10)), (240, hot)])
    assert verdicts[1].action == Action.NONE and verdicts[1].level == NORMAL
    assert verdicts[1].high_since is None and verdicts[2].high_since == at(240)
    nothing = decide(
        load=CellLoad(brokers=3, problems=("log directories unreadable: timeout",)),
        history=History(),
        thresholds=THRESHOLDS,
        now=T0,
    )
    assert nothing.action == Action.NONE and nothing.level == UNKNOWN
    assert "log directories unreadable" in nothing.reason


def test_scale_down_needs_the_longer_window_and_names_the_highest_broker_only_node():
    idle = load(brokers=4, ingress=MB, removable=4)
    seconds = [*range(0, 901, 120), 900]
    verdicts = run([(s, idle) for s in seconds])
    assert all(v.action == Action.NONE for v in verdicts[:-1])
    assert "of the 900 s window" in verdicts[-2].reason
    assert verdicts[-1].action == Action.SCALE_DOWN
    assert verdicts[-1].broker_id == 4
    assert "remove broker 4 of the 4" in verdicts[-1].reason


# --- min and max brokers -----------------------------------------------------------------------


def test_never_below_the_minimum_of_three_brokers():
    idle = load(brokers=3, ingress=0.0, removable=3)
    verdicts = run([(s, idle) for s in range(0, 2000, 100)])
    assert {v.action for v in verdicts} == {Action.NONE}
    assert "minimum of 3 brokers" in verdicts[-1].reason
    # Even a configuration asking for fewer cannot go below 3.
    assert Thresholds.from_settings().min_brokers >= 3


def test_min_brokers_setting_below_three_is_raised_to_three(settings):
    settings.SKIFF_AUTOSCALE_MIN_BROKERS = 1
    assert Thresholds.from_settings().min_brokers == 3


def test_only_a_broker_only_node_is_removed():
    idle = load(brokers=4, ingress=0.0, removable=None)
    verdicts = run([(s, idle) for s in range(0, 1000, 100)])
    assert {v.action for v in verdicts} == {Action.NONE}
    assert "no broker-only node" in verdicts[-1].reason


def test_no_scale_up_past_the_maximum():
    hot = load(brokers=6, ingress=6 * 9 * MB)
    verdicts = run([(s, hot) for s in range(0, 400, 100)])
    assert {v.action for v in verdicts} == {Action.NONE}
    assert "maximum of 6 brokers" in verdicts[-1].reason


# --- cooldown and busy -------------------------------------------------------------------------


def test_cooldown_holds_a_sustained_level_and_the_streak_survives_it():
    hot = load(ingress=3 * 9 * MB)
    history = History(last_scaled_at=at(-100))  # cooldown (600 s) until at(500)
    verdicts = run([(s, hot) for s in (0, 100, 200, 300, 400, 500)], history=history)
    actions = [v.action for v in verdicts]
    assert actions == [Action.NONE] * 3 + [Action.COOLDOWN, Action.COOLDOWN, Action.SCALE_UP]
    assert "cooldown until 12:08:20 UTC" in verdicts[3].reason
    assert verdicts[4].high_since == at(0)


def test_after_a_scale_up_the_next_one_waits_for_the_cooldown_and_a_new_window():
    hot = load(ingress=3 * 9 * MB)
    seconds = list(range(0, 1300, 100))
    verdicts = run([(s, hot) for s in seconds])
    scaled = [s for s, v in zip(seconds, verdicts, strict=True) if v.action == Action.SCALE_UP]
    # Window 300 s: first at 300; the next needs 600 s of cooldown and a fresh 300 s window.
    assert scaled == [300, 900]
    assert verdicts[seconds.index(800)].action == Action.COOLDOWN


def test_a_running_operation_holds_everything_and_resets_the_streaks():
    hot = load(ingress=3 * 9 * MB)
    busy = History(
        last_evaluated_at=at(0), high_since=at(-1000), active_operation_id=7, last_scaled_at=None
    )
    verdict = decide(load=hot, history=busy, thresholds=THRESHOLDS, now=at(60))
    assert verdict.action == Action.BUSY
    assert "fleet operation #7 is under way" in verdict.reason
    assert verdict.high_since is None and verdict.low_since is None


# --- record_evaluation: history, dry-run, busy, pruning (database, no Kafka) ------------------


@pytest.mark.django_db
def test_dry_run_records_the_scaling_decision_starts_nothing_and_cools_down():
    cell = CellFactory()
    hot = load(ingress=3 * 9 * MB)
    dry = dataclasses.replace(THRESHOLDS, dry_run=True)
    decisions = [
        record_evaluation(cell=cell, load=hot, now=at(s), thresholds=dry) for s in (0, 120, 240)
    ]
    assert [d.action for d in decisions] == [Action.NONE, Action.NONE, Action.NONE]
    up = record_evaluation(cell=cell, load=hot, now=at(300), thresholds=dry)
    assert up.action == Action.SCALE_UP and up.dry_run and up.operation is None
    assert not FleetOperation.objects.filter(cell=cell).exists()
    # The numbers that drove it, and the thresholds.
    assert up.metrics["level"] == HIGH
    assert up.metrics["per_broker"]["ingress"] == pytest.approx(9 * MB)
    assert up.metrics["utilisation"]["ingress"] == pytest.approx(0.9)
    assert up.metrics["thresholds"]["broker_ingress_bytes_per_sec"] == 10 * MB
    assert up.metrics["thresholds"]["dry_run"] is True
    assert up.metrics["cell"]["partition_replicas"] == 300
    # A dry-run scaling decision starts the cooldown like a real one.
    later = [
        record_evaluation(cell=cell, load=hot, now=at(300 + s), thresholds=dry)
        for s in (120, 240, 360, 480)
    ]
    assert [d.action for d in later] == [Action.NONE] * 3 + [Action.COOLDOWN]


@pytest.mark.django_db
def test_an_active_operation_on_the_cell_is_busy_and_a_finished_one_starts_the_cooldown():
    cell = CellFactory()
    hot = load(ingress=3 * 9 * MB)
    operation = FleetOperation.objects.create(
        cell=cell, kind=FleetOperation.Kind.REBALANCE, state=FleetOperation.State.RUNNING
    )
    busy = record_evaluation(cell=cell, load=hot, now=at(0), thresholds=THRESHOLDS)
    assert busy.action == Action.BUSY
    assert f"#{operation.pk}" in busy.reason
    operation.state = FleetOperation.State.SUCCEEDED
    operation.finished_at = at(30)
    operation.save()
    decisions = [
        record_evaluation(cell=cell, load=hot, now=at(s), thresholds=THRESHOLDS)
        for s in (60, 180, 300, 360, 480, 600, 620)
    ]
    # Busy reset the streak: the window runs from 60 s; the cooldown (600 s) until 630 s.
    assert [d.action for d in decisions] == [Action.NONE] * 3 + [Action.COOLDOWN] * 4
    assert "cooldown until 12:10:30 UTC" in decisions[-1].reason


@pytest.mark.django_db
def test_routine_decisions_are_pruned_scaling_decisions_kept():
    cell, other = CellFactory(), CellFactory()
    for i in range(8):
        AutoscaleDecision.objects.create(
            cell=cell, decided_at=at(i), action=Action.NONE, reason="calm"
        )
    AutoscaleDecision.objects.create(
        cell=cell, decided_at=at(-10), action=Action.SCALE_UP, reason="hot"
    )
    AutoscaleDecision.objects.create(cell=other, decided_at=at(-10), action=Action.NONE, reason="x")
    assert prune_decisions(cell=cell, keep=3) == 5
    left = list(AutoscaleDecision.objects.filter(cell=cell).values_list("action", "decided_at"))
    assert left == [
        (Action.NONE, at(7)),
        (Action.NONE, at(6)),
        (Action.NONE, at(5)),
        (Action.SCALE_UP, at(-10)),
    ]
    assert AutoscaleDecision.objects.filter(cell=other).count() == 1


@pytest.mark.django_db
def test_record_evaluation_keeps_history_bounded(settings):
    settings.SKIFF_AUTOSCALE_HISTORY = 5
    cell = CellFactory()
    calm = load(ingress=3 * 5 * MB)
    for s in range(0, 1200, 60):
        record_evaluation(cell=cell, load=calm, now=at(s), thresholds=THRESHOLDS)
    assert AutoscaleDecision.objects.filter(cell=cell).count() == 5
    assert AutoscaleDecision.objects.filter(cell=cell).first().decided_at == at(1140)
