"""The rebalance planner (fleet.services.planner): pure, so tested over many seeded random
clusters for its invariants, and on small hand-made ones for minimality and modes."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest

from fleet.services.planner import (
    Move,
    PlanError,
    RebalancePlan,
    plan_rebalance,
)

Assignment = dict[tuple[str, int], list[int]]


def apply(assignment: Mapping[tuple[str, int], Sequence[int]], plan: RebalancePlan) -> Assignment:
    out = {key: list(reps) for key, reps in assignment.items()}
    for move in plan.moves:
        assert out[move.key] == list(move.from_replicas), f"{move} does not start from the state"
        out[move.key] = list(move.to_replicas)
    return out


def replica_counts(assignment: Mapping, brokers) -> Counter:
    counts = Counter(dict.fromkeys(brokers, 0))
    for reps in assignment.values():
        counts.update(b for b in reps if b in counts)
    return counts


def leader_counts(assignment: Mapping, brokers) -> Counter:
    counts = Counter(dict.fromkeys(brokers, 0))
    counts.update(reps[0] for reps in assignment.values() if reps and reps[0] in counts)
    return counts


def spread(counts: Mapping[int, int], brokers) -> int:
    values = [counts[b] for b in brokers]
    return max(values) - min(values)


def round_robin(brokers: Sequence[int], topics: Mapping[str, int], rf: int) -> Assignment:
    """Kafka's own style of placement: balanced replicas and leaders."""
    out: Assignment = {}
    i = 0
    for topic, partitions in sorted(topics.items()):
        for p in range(partitions):
            out[(topic, p)] = [brokers[(i + r) % len(brokers)] for r in range(rf)]
            i += 1
    return out


def random_cluster(rng: random.Random, *, racks: bool = False, skew: bool = True):
    n = rng.randint(3, 8)
    brokers = list(range(1, n + 1))
    rack_names = ["a", "b", "c"]
    rack_of = {b: (rack_names[i % 3] if racks else "") for i, b in enumerate(brokers)}
    weights = [rng.random() ** (3 if skew else 0) + 0.01 for _ in brokers]
    assignment: Assignment = {}
    sizes: dict[tuple[str, int], int] = {}
    for t in range(rng.randint(1, 6)):
        rf = rng.randint(1, min(3, n))
        for p in range(rng.randint(1, 30)):
            reps: list[int] = []
            while len(reps) < rf:
                b = rng.choices(brokers, weights)[0]
                if b not in reps:
                    reps.append(b)
            assignment[(f"t{t}", p)] = reps
            sizes[(f"t{t}", p)] = rng.randint(0, 10_000)
    return brokers, rack_of, assignment, sizes


def check_common(assignment, plan: RebalancePlan, brokers, batch_size: int) -> Assignment:
    after = apply(assignment, plan)
    assert set(after) == set(assignment)
    for key, reps in after.items():
        assert len(reps) == len(assignment[key]), f"{key}: replication factor changed"
        assert len(set(reps)) == len(reps), f"{key}: two replicas on one broker: {reps}"
        assert all(b in brokers for b in reps if b not in assignment[key])
    # Every move changes something and appears in exactly one batch of at most batch_size.
    assert all(m.from_replicas != m.to_replicas for m in plan.moves)
    flat = [i for batch in plan.batches for i in batch]
    assert sorted(flat) == list(range(len(plan.moves)))
    assert all(0 < len(batch) <= batch_size for batch in plan.batches)
    # The plan's own after-figures agree with the applied assignment.
    counts = replica_counts(after, brokers)
    assert {b: plan.after[b].replicas for b in brokers} == dict(counts)
    assert {b: plan.after[b].leaders for b in brokers} == dict(leader_counts(after, brokers))
    return after


SEEDS = range(60)


@pytest.mark.parametrize("seed", SEEDS)
def test_full_mode_invariants_on_random_clusters(seed):
    rng = random.Random(seed)
    brokers, racks, assignment, sizes = random_cluster(rng)
    batch = rng.randint(1, 7)
    plan = plan_rebalance(
        assignment=assignment,
        brokers=racks,
        mode="full",
        partition_bytes=sizes,
        batch_size=batch,
    )
    after = check_common(assignment, plan, brokers, batch)
    counts = replica_counts(after, brokers)
    mean = sum(counts.values()) / len(brokers)
    assert all(abs(counts[b] - mean) <= 1 for b in brokers), (counts, mean)
    assert spread(counts, brokers) <= 1
    # Leaders never get less even than they were.
    assert spread(leader_counts(after, brokers), brokers) <= max(
        1, spread(leader_counts(assignment, brokers), brokers)
    )
    # Deterministic, whatever the order the assignment was given in.
    shuffled = list(assignment.items())
    rng.shuffle(shuffled)
    again = plan_rebalance(
        assignment=dict(shuffled),
        brokers=dict(reversed(list(racks.items()))),
        mode="full",
        partition_bytes=sizes,
        batch_size=batch,
    )
    assert again == plan


@pytest.mark.parametrize("seed", SEEDS)
def test_full_mode_moves_no_more_replicas_than_needed(seed):
    """Without sizes and racks, the replica moves are exactly the excess over the mean's
    ceiling or the shortfall under its floor, whichever is larger (the least possible)."""
    rng = random.Random(1000 + seed)
    brokers, racks, assignment, _ = random_cluster(rng)
    plan = plan_rebalance(assignment=assignment, brokers=racks, mode="full", batch_size=5)
    counts = replica_counts(assignment, brokers)
    mean = sum(counts.values()) / len(brokers)
    excess = sum(max(0, c - math.ceil(mean)) for c in counts.values())
    deficit = sum(max(0, math.floor(mean) - c) for c in counts.values())
    assert plan.summary()["replica_moves"] == max(excess, deficit)


@pytest.mark.parametrize("seed", SEEDS)
def test_full_mode_with_racks_never_narrows_racks_and_repairs_them(seed):
    rng = random.Random(2000 + seed)
    brokers, racks, assignment, sizes = random_cluster(rng, racks=True)
    plan = plan_rebalance(
        assignment=assignment, brokers=racks, mode="full", partition_bytes=sizes, batch_size=4
    )
    after = check_common(assignment, plan, brokers, 4)
    all_racks = set(racks.values())
    for key, reps in after.items():
        # Three racks for every n >= 3 here: each partition spans as many racks as it can.
        assert len({racks[b] for b in reps}) == min(len(reps), len(all_racks)), (key, reps)
    counts = replica_counts(after, brokers)
    # A small rack must hold more per broker (one replica of each partition goes there), so
    # replicas are even within each rack, and across racks when the racks are the same size.
    for rack in all_racks:
        same = [b for b in brokers if racks[b] == rack]
        assert spread(counts, same) <= 1, (rack, counts)
    if len(brokers) % len(all_racks) == 0:
        assert spread(counts, brokers) <= 1, counts


@pytest.mark.parametrize("seed", SEEDS)
def test_add_brokers_moves_only_onto_the_new_brokers(seed):
    rng = random.Random(3000 + seed)
    old = list(range(1, rng.randint(3, 6) + 1))
    new = [len(old) + 1 + i for i in range(rng.randint(1, 2))]
    topics = {f"t{i}": rng.randint(1, 40) for i in range(rng.randint(1, 5))}
    assignment = round_robin(old, topics, rf=min(3, len(old)))
    brokers = {b: "" for b in old + new}
    plan = plan_rebalance(
        assignment=assignment,
        brokers=brokers,
        mode="add-brokers",
        target_broker_ids=new,
        batch_size=3,
    )
    after = check_common(assignment, plan, brokers, 3)
    for move in plan.moves:
        assert set(move.added) <= set(new), move
        assert not set(move.removed) & set(new), move
    counts = replica_counts(after, brokers)
    mean = sum(counts.values()) / len(brokers)
    assert all(abs(counts[b] - mean) <= 1 for b in brokers), (counts, mean)
    # Minimal: each replica moved is one the new brokers now hold, no more than needed.
    assert plan.summary()["replica_moves"] == sum(counts[b] for b in new)
    assert all(counts[b] <= math.ceil(mean) for b in new)
    assert spread(leader_counts(after, brokers), brokers) <= 1


@pytest.mark.parametrize("seed", SEEDS)
def test_remove_brokers_empties_them_and_touches_nothing_else(seed):
    rng = random.Random(4000 + seed)
    brokers_list, racks, assignment, sizes = random_cluster(rng, racks=seed % 2 == 0)
    leaving = sorted(rng.sample(brokers_list, 1 if len(brokers_list) < 5 else 2))
    max_rf = max(len(reps) for reps in assignment.values())
    if len(brokers_list) - len(leaving) < max_rf:
        with pytest.raises(PlanError, match="too few to keep them apart"):
            plan_rebalance(
                assignment=assignment,
                brokers=racks,
                mode="remove-brokers",
                target_broker_ids=leaving,
                batch_size=6,
            )
        return
    plan = plan_rebalance(
        assignment=assignment,
        brokers=racks,
        mode="remove-brokers",
        target_broker_ids=leaving,
        partition_bytes=sizes,
        batch_size=6,
    )
    after = check_common(assignment, plan, brokers_list, 6)
    for key, reps in after.items():
        assert not set(reps) & set(leaving), (key, reps)
        # Only replicas on the leaving brokers changed broker.
        assert set(assignment[key]) - set(leaving) <= set(reps)
    for move in plan.moves:
        assert set(move.removed) <= set(leaving)
    remaining = [b for b in brokers_list if b not in leaving]
    before = replica_counts(assignment, remaining)
    counts = replica_counts(after, remaining)
    # The replicas that leave go where there is room: the spread never grows past 1 + before.
    assert spread(counts, remaining) <= max(1, spread(before, remaining))
    assert all(plan.after[b].replicas == 0 for b in leaving)


def test_a_balanced_cluster_gets_no_moves():
    brokers = [1, 2, 3]
    assignment = round_robin(brokers, {"orders": 12, "events": 9, "__consumer_offsets": 6}, rf=3)
    sizes = dict.fromkeys(assignment, 1000)
    for mode, targets in (("full", ()), ("add-brokers", (3,))):
        plan = plan_rebalance(
            assignment=assignment,
            brokers=dict.fromkeys(brokers, ""),
            mode=mode,
            target_broker_ids=targets,
            partition_bytes=sizes,
            batch_size=5,
        )
        assert plan.moves == () and plan.batches == (), mode


def test_a_balanced_rack_aware_cluster_gets_no_moves():
    brokers = {1: "a", 2: "b", 3: "c", 4: "a", 5: "b", 6: "c"}
    assignment = {
        ("t", p): [[1, 2, 3], [4, 5, 6], [2, 3, 4], [5, 6, 1], [3, 4, 5], [6, 1, 2]][p]
        for p in range(6)
    }
    plan = plan_rebalance(assignment=assignment, brokers=brokers, mode="full", batch_size=2)
    assert plan.moves == ()


def test_leaders_are_evened_by_reordering_without_copying_data():
    # Every partition led by broker 1: replicas are balanced, leaders are not.
    assignment = {("t", p): [1, 2 + p % 2, 3 - p % 2] for p in range(6)}
    plan = plan_rebalance(
        assignment=assignment, brokers={1: "", 2: "", 3: ""}, mode="full", batch_size=10
    )
    assert plan.moves and all(not m.copies_data for m in plan.moves)
    after = apply(assignment, plan)
    assert leader_counts(after, [1, 2, 3]) == Counter({1: 2, 2: 2, 3: 2})
    assert plan.summary()["leader_reorders"] == 4 and plan.bytes_to_copy == 0


def test_add_brokers_three_to_four_like_the_acceptance_test():
    assignment = round_robin([1, 2, 3], {f"tenant-{i}": 10 for i in range(7)}, rf=3)
    sizes = {key: 1000 + 10 * key[1] for key in assignment}
    plan = plan_rebalance(
        assignment=assignment,
        brokers={1: "", 2: "", 3: "", 4: ""},
        mode="add-brokers",
        target_broker_ids=[4],
        partition_bytes=sizes,
        batch_size=8,
    )
    after = apply(assignment, plan)
    counts = replica_counts(after, [1, 2, 3, 4])
    assert counts == Counter({1: 52, 2: 53, 3: 52, 4: 53}) or spread(counts, [1, 2, 3, 4]) <= 1
    assert plan.summary()["replica_moves"] == counts[4]
    # The data moves come first, in batches of 8, then the leader-only reorders.
    data_batches = [b for b in plan.batches if plan.moves[b[0]].copies_data]
    assert all(plan.moves[i].copies_data for b in data_batches for i in b)
    assert plan.batches[: len(data_batches)] == tuple(data_batches)
    assert plan.summary()["bytes_to_copy"] == sum(m.bytes_copied for m in plan.moves) > 0


def test_bytes_are_evened_when_counts_already_are():
    # Same counts everywhere, but broker 1 holds both big partitions.
    assignment = {
        ("big", 0): [1],
        ("big", 1): [1],
        ("small", 0): [2],
        ("small", 1): [3],
        ("small", 2): [2],
        ("small", 3): [3],
    }
    sizes = {("big", 0): 1000, ("big", 1): 1000}
    sizes.update({("small", i): 10 for i in range(4)})
    plan = plan_rebalance(
        assignment=assignment,
        brokers={1: "", 2: "", 3: ""},
        mode="full",
        partition_bytes=sizes,
        batch_size=10,
    )
    after = apply(assignment, plan)
    by_broker = Counter()
    for key, reps in after.items():
        for b in reps:
            by_broker[b] += sizes[key]
    before = {1: 2000, 2: 20, 3: 20}
    assert max(by_broker.values()) - min(by_broker.values()) < max(before.values()) - min(
        before.values()
    )
    assert spread(replica_counts(after, [1, 2, 3]), [1, 2, 3]) <= 1


def test_a_replacement_prefers_a_rack_the_partition_is_not_on():
    brokers = {1: "a", 2: "b", 3: "c", 4: "a", 5: "c"}
    assignment = {("t", 0): [1, 2, 3]}
    plan = plan_rebalance(
        assignment=assignment,
        brokers=brokers,
        mode="remove-brokers",
        target_broker_ids=[3],
        batch_size=1,
    )
    assert plan.moves[0].to_replicas[2] == 5  # rack c again, not broker 4 on rack a


def test_plan_round_trips_through_json():
    import json

    assignment = round_robin([1, 2, 3], {"t": 8}, rf=2)
    plan = plan_rebalance(
        assignment=assignment,
        brokers={1: "", 2: "", 3: "", 4: ""},
        mode="add-brokers",
        target_broker_ids=[4],
        partition_bytes=dict.fromkeys(assignment, 7),
        batch_size=2,
    )
    assert RebalancePlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert Move.from_dict(plan.moves[0].to_dict()) == plan.moves[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sideways"}, "Unknown rebalance mode"),
        ({"mode": "add-brokers", "target_broker_ids": [9]}, "Unknown broker"),
        ({"mode": "remove-brokers"}, "needs at least one broker"),
        ({"mode": "remove-brokers", "target_broker_ids": [1, 2, 3]}, "nowhere to move"),
        ({"mode": "remove-brokers", "target_broker_ids": [3]}, "too few to keep them apart"),
        ({"mode": "full", "batch_size": 0}, "batch size"),
    ],
)
def test_requests_that_cannot_be_planned_say_why(kwargs, message):
    assignment = {("t", 0): [1, 2, 3]}
    args = {"assignment": assignment, "brokers": {1: "", 2: "", 3: ""}, "batch_size": 2}
    with pytest.raises(PlanError, match=message):
        plan_rebalance(**{**args, **kwargs})


def test_replicas_on_unknown_brokers_are_left_alone():
    # Broker 9 is gone from the cell's broker list (e.g. offline): not counted, not a target.
    assignment = {("t", p): [9, 1] for p in range(4)} | {("u", 0): [1, 2]}
    plan = plan_rebalance(
        assignment=assignment, brokers={1: "", 2: "", 3: ""}, mode="full", batch_size=3
    )
    after = apply(assignment, plan)
    assert all(9 in reps for key, reps in after.items() if key[0] == "t")
    assert spread(replica_counts(after, [1, 2, 3]), [1, 2, 3]) <= 1
