"""The rebalance planner: where every partition replica should live. Pure: no I/O, no Django.

Kafka on KRaft has no Cruise Control, so Skiff plans reassignments itself (issue 14). Given the
current assignment (partition → replica list, the first replica being the preferred leader),
the brokers (id → rack, "" when racks are not used) and a mode, `plan_rebalance` returns the
moves to make, in batches, and the per-broker load before and after.

Modes (Strimzi's KafkaRebalance modes):
- ``full``: every broker may give and take replicas.
- ``add-brokers``: replicas only move *onto* the named (new) brokers, taken from the others.
- ``remove-brokers``: every replica on the named brokers moves to the remaining ones; nothing
  else moves (apart from preferred-leader order, which costs no data).

What the planner promises, in order of priority:
1. Never two replicas of a partition on one broker; the replication factor is kept.
2. Racks, when brokers have them: no move makes a partition's replicas span fewer racks, a
   replacement prefers a rack the partition is not on yet, and ``full`` repairs partitions whose
   replicas share a rack when another rack is free.
3. Replica counts per broker within ±1 of the mean (max - min <= 1) — among the brokers the mode
   lets it touch.
4. Preferred leaders (first replicas) evened the same way, by reordering replica lists (a
   reorder copies no data).
5. Bytes evened (``full`` only, when partition sizes are given) within a tolerance, by moves
   that keep the counts within their bounds.
Every step is a greedy move that strictly improves one of these, so the plan is short: a
cluster that is already balanced gets no moves at all. Ties are broken by broker id and
(topic, partition), so the same input always gives the same plan.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

PartitionKey = tuple[str, int]
Mode = Literal["full", "add-brokers", "remove-brokers"]
MODES: tuple[str, ...] = ("full", "add-brokers", "remove-brokers")

# `full` evens bytes only when the fullest and emptiest brokers differ by more than this
# fraction of the mean bytes per broker: a byte-perfect spread is not worth a copy.
BYTES_TOLERANCE = 0.10


class PlanError(ValueError):
    """The request cannot be planned (unknown broker, too few brokers for the replication
    factor…). The message says why, for an operator."""


@dataclass(frozen=True)
class Move:
    """One partition's reassignment: its replica list before and after (first = leader)."""

    topic: str
    partition: int
    from_replicas: tuple[int, ...]
    to_replicas: tuple[int, ...]
    bytes: int = 0  # the partition's size (one replica)

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)

    @property
    def added(self) -> tuple[int, ...]:
        """Brokers that receive a copy of the partition."""
        return tuple(b for b in self.to_replicas if b not in self.from_replicas)

    @property
    def removed(self) -> tuple[int, ...]:
        return tuple(b for b in self.from_replicas if b not in self.to_replicas)

    @property
    def copies_data(self) -> bool:
        return bool(self.added)

    @property
    def bytes_copied(self) -> int:
        return self.bytes * len(self.added)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "from_replicas": list(self.from_replicas),
            "to_replicas": list(self.to_replicas),
            "bytes": self.bytes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Move:
        return cls(
            topic=str(data["topic"]),
            partition=int(data["partition"]),
            from_replicas=tuple(int(b) for b in data["from_replicas"]),
            to_replicas=tuple(int(b) for b in data["to_replicas"]),
            bytes=int(data.get("bytes", 0)),
        )


@dataclass(frozen=True)
class BrokerLoad:
    replicas: int = 0
    leaders: int = 0
    bytes: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"replicas": self.replicas, "leaders": self.leaders, "bytes": self.bytes}


@dataclass(frozen=True)
class RebalancePlan:
    """The planner's answer. `batches` hold indexes into `moves`, applied one batch at a time."""

    mode: str
    target_broker_ids: tuple[int, ...]
    moves: tuple[Move, ...]
    batches: tuple[tuple[int, ...], ...]
    before: Mapping[int, BrokerLoad] = field(default_factory=dict)
    after: Mapping[int, BrokerLoad] = field(default_factory=dict)

    @property
    def bytes_to_copy(self) -> int:
        return sum(move.bytes_copied for move in self.moves)

    def batch_moves(self, index: int) -> list[Move]:
        return [self.moves[i] for i in self.batches[index]]

    def summary(self) -> dict[str, Any]:
        """What a preview shows: counts of moves, bytes to copy, load per broker before/after."""
        data_moves = [m for m in self.moves if m.copies_data]
        return {
            "mode": self.mode,
            "target_broker_ids": list(self.target_broker_ids),
            "moves": len(self.moves),
            "replica_moves": sum(len(m.added) for m in data_moves),
            "partitions_moved": len(data_moves),
            "leader_reorders": len(self.moves) - len(data_moves),
            "bytes_to_copy": self.bytes_to_copy,
            "batches": len(self.batches),
            "before": {str(b): load.to_dict() for b, load in sorted(self.before.items())},
            "after": {str(b): load.to_dict() for b, load in sorted(self.after.items())},
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON for FleetOperation.plan (see `from_dict`): the summary, then every move and
        the batches (indexes into the moves)."""
        summary = self.summary()
        return {
            "mode": self.mode,
            "target_broker_ids": list(self.target_broker_ids),
            "summary": {k: v for k, v in summary.items() if k not in ("before", "after")},
            "before": summary["before"],
            "after": summary["after"],
            "moves": [move.to_dict() for move in self.moves],
            "batches": [list(batch) for batch in self.batches],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RebalancePlan:
        def loads(raw: Mapping[str, Mapping[str, int]]) -> dict[int, BrokerLoad]:
            return {int(b): BrokerLoad(**dict(v)) for b, v in raw.items()}

        return cls(
            mode=str(data["mode"]),
            target_broker_ids=tuple(int(b) for b in data.get("target_broker_ids", ())),
            moves=tuple(Move.from_dict(m) for m in data.get("moves", ())),
            batches=tuple(tuple(int(i) for i in b) for b in data.get("batches", ())),
            before=loads(data.get("before", {})),
            after=loads(data.get("after", {})),
        )


def plan_rebalance(
    *,
    assignment: Mapping[PartitionKey, Sequence[int]],
    brokers: Mapping[int, str],
    mode: str,
    target_broker_ids: Collection[int] = (),
    partition_bytes: Mapping[PartitionKey, int] | None = None,
    batch_size: int = 10,
) -> RebalancePlan:
    """Plan a rebalance. `brokers` maps every live broker id to its rack ("" for none).

    `target_broker_ids` are the new brokers (add-brokers) or the ones to empty
    (remove-brokers); ignored by ``full``. Replicas on brokers missing from `brokers` are left
    where they are and not counted. Raises PlanError when the request cannot be planned.
    """
    if mode not in MODES:
        raise PlanError(f"Unknown rebalance mode '{mode}': use one of {', '.join(MODES)}.")
    if batch_size < 1:
        raise PlanError("The batch size must be at least 1.")
    targets = frozenset(int(b) for b in target_broker_ids)
    unknown = sorted(targets - set(brokers))
    if unknown and mode != "full":
        raise PlanError(f"Unknown broker(s): {', '.join(map(str, unknown))}.")
    if mode != "full" and not targets:
        raise PlanError(f"Mode '{mode}' needs at least one broker id.")
    state = _State(assignment, brokers, partition_bytes or {})
    before = state.loads(sorted(brokers))

    if mode == "remove-brokers":
        active = sorted(set(brokers) - targets)
        if not active:
            raise PlanError("Removing every broker leaves nowhere to move the replicas.")
        state.evacuate(targets, active)
    elif mode == "add-brokers":
        active = sorted(brokers)
        state.balance_counts(sources=sorted(set(active) - targets), dests=sorted(targets))
    else:
        active = sorted(brokers)
        state.repair_racks(active)
        state.balance_counts(sources=active, dests=active)
        state.balance_bytes(active)
    state.balance_leaders(active)

    moves = state.moves()
    data_moves = [i for i, m in enumerate(moves) if m.copies_data]
    reorders = [i for i, m in enumerate(moves) if not m.copies_data]
    batches = [tuple(data_moves[i : i + batch_size]) for i in range(0, len(data_moves), batch_size)]
    batches += [tuple(reorders[i : i + batch_size]) for i in range(0, len(reorders), batch_size)]
    return RebalancePlan(
        mode=mode,
        target_broker_ids=tuple(sorted(targets)),
        moves=tuple(moves),
        batches=tuple(batches),
        before=before,
        after=state.loads(sorted(brokers)),
    )


class _State:
    """The assignment being planned, with per-broker indexes kept up to date on every move."""

    def __init__(
        self,
        assignment: Mapping[PartitionKey, Sequence[int]],
        brokers: Mapping[int, str],
        sizes: Mapping[PartitionKey, int],
    ) -> None:
        self.rack = {int(b): r or "" for b, r in brokers.items()}
        self.use_racks = any(self.rack.values())
        self.original = {key: tuple(reps) for key, reps in sorted(assignment.items())}
        self.parts = {key: list(reps) for key, reps in self.original.items()}
        self.size = {key: int(sizes.get(key, 0)) for key in self.parts}
        for key, reps in self.parts.items():
            if len(set(reps)) != len(reps):
                raise PlanError(f"Partition {key[0]}-{key[1]} lists a broker twice: {reps}.")
        self.held: dict[int, set[PartitionKey]] = {b: set() for b in self.rack}
        self.bytes: dict[int, int] = dict.fromkeys(self.rack, 0)
        self.leaders: dict[int, int] = dict.fromkeys(self.rack, 0)
        for key, reps in self.parts.items():
            for b in reps:
                if b in self.held:
                    self.held[b].add(key)
                    self.bytes[b] += self.size[key]
            if reps and reps[0] in self.leaders:
                self.leaders[reps[0]] += 1

    # --- bookkeeping -------------------------------------------------------------------
    def count(self, broker: int) -> int:
        return len(self.held[broker])

    def loads(self, broker_ids: Sequence[int]) -> dict[int, BrokerLoad]:
        return {
            b: BrokerLoad(replicas=self.count(b), leaders=self.leaders[b], bytes=self.bytes[b])
            for b in broker_ids
        }

    def moves(self) -> list[Move]:
        return [
            Move(key[0], key[1], self.original[key], tuple(reps), self.size[key])
            for key, reps in self.parts.items()
            if tuple(reps) != self.original[key]
        ]

    def _move(self, key: PartitionKey, src: int, dst: int) -> None:
        reps = self.parts[key]
        index = reps.index(src)
        reps[index] = dst
        if src in self.held:
            self.held[src].discard(key)
            self.bytes[src] -= self.size[key]
        self.held[dst].add(key)
        self.bytes[dst] += self.size[key]
        if index == 0:
            if src in self.leaders:
                self.leaders[src] -= 1
            self.leaders[dst] += 1

    def _racks(self, brokers: Sequence[int]) -> set[str]:
        return {self.rack.get(b, "") for b in brokers}

    def _rack_ok(self, key: PartitionKey, src: int, dst: int) -> bool:
        """Moving src → dst does not make the partition span fewer racks."""
        if not self.use_racks:
            return True
        reps = self.parts[key]
        after = [dst if b == src else b for b in reps]
        return len(self._racks(after)) >= len(self._racks(reps))

    # --- remove-brokers ----------------------------------------------------------------
    def evacuate(self, leaving: frozenset[int], active: Sequence[int]) -> None:
        """Replace every replica on a leaving broker, biggest partitions first, each by the
        remaining broker that keeps racks apart and holds the fewest replicas (then bytes)."""
        order = sorted(self.parts, key=lambda k: (-self.size[k], k))
        for key in order:
            for src in [b for b in self.parts[key] if b in leaving]:
                others = [b for b in self.parts[key] if b != src]
                used = self._racks(others)
                candidates = [b for b in active if b not in self.parts[key]]
                if not candidates:
                    raise PlanError(
                        f"Partition {key[0]}-{key[1]} has {len(self.parts[key])} replicas; "
                        f"{len(active)} broker(s) would remain, too few to keep them apart."
                    )
                dst = min(
                    candidates,
                    key=lambda b: (
                        self.use_racks and self.rack[b] in used,
                        self.count(b),
                        self.bytes[b],
                        b,
                    ),
                )
                self._move(key, src, dst)

    # --- racks (full) ------------------------------------------------------------------
    def repair_racks(self, active: Sequence[int]) -> None:
        if not self.use_racks:
            return
        all_racks = self._racks(active)
        for key in sorted(self.parts):
            reps = self.parts[key]
            while len(self._racks(reps)) < min(len(reps), len(all_racks)):
                used = self._racks(reps)
                seen: set[str] = set()
                dupes = []
                for b in reps:  # every replica after the first on its rack
                    if self.rack.get(b, "") in seen and b in self.held:
                        dupes.append(b)
                    seen.add(self.rack.get(b, ""))
                free = [b for b in active if self.rack[b] not in used and b not in reps]
                if not dupes or not free:
                    break
                src = max(dupes, key=lambda b: (self.count(b), -b))
                dst = min(free, key=lambda b: (self.count(b), self.bytes[b], b))
                self._move(key, src, dst)

    # --- replica counts ----------------------------------------------------------------
    def balance_counts(self, *, sources: Sequence[int], dests: Sequence[int]) -> None:
        """Move replicas from the fullest source to the emptiest destination while the two
        differ by two or more (each such move lowers the spread; none is made otherwise)."""
        if not sources or not dests:
            return
        limit = 4 * sum(len(r) for r in self.parts.values()) + 10
        for _ in range(limit):
            if not self._one_count_move(sources, dests):
                return

    def _one_count_move(self, sources: Sequence[int], dests: Sequence[int]) -> bool:
        srcs = sorted(sources, key=lambda b: (-self.count(b), -self.bytes[b], b))
        dsts = sorted(dests, key=lambda b: (self.count(b), self.bytes[b], b))
        for src in srcs:
            for dst in dsts:
                if src == dst or self.count(src) - self.count(dst) < 2:
                    continue
                key = self._pick(src, dst)
                if key is not None:
                    self._move(key, src, dst)
                    return True
        return False

    def _pick(self, src: int, dst: int) -> PartitionKey | None:
        """The partition on src to give dst: one dst lacks, rack-safe, whose size best evens
        the two brokers' bytes; a follower rather than a leader when sizes tie."""
        half = (self.bytes[src] - self.bytes[dst]) / 2
        best: tuple[Any, ...] | None = None
        best_key: PartitionKey | None = None
        for key in self.held[src]:
            reps = self.parts[key]
            if dst in reps or not self._rack_ok(key, src, dst):
                continue
            rank = (abs(self.size[key] - half), reps[0] == src, key)
            if best is None or rank < best:
                best, best_key = rank, key
        return best_key

    # --- bytes (full) ------------------------------------------------------------------
    def balance_bytes(self, active: Sequence[int]) -> None:
        if len(active) < 2 or not any(self.size.values()):
            return
        total = sum(self.count(b) for b in active)
        low, high = math.floor(total / len(active)), math.ceil(total / len(active))
        limit = 2 * len(self.parts) + 10
        for _ in range(limit):
            mean = sum(self.bytes[b] for b in active) / len(active)
            src = max(active, key=lambda b: (self.bytes[b], -b))
            dst = min(active, key=lambda b: (self.bytes[b], b))
            gap = self.bytes[src] - self.bytes[dst]
            if gap <= max(1.0, BYTES_TOLERANCE * mean):
                return
            if not self._one_bytes_move(src, dst, gap, low, high):
                return

    def _one_bytes_move(self, src: int, dst: int, gap: int, low: int, high: int) -> bool:
        """One move (or a swap of two) from src to dst that narrows their byte gap while the
        replica counts stay within [low, high]."""
        if self.count(src) - 1 >= low and self.count(dst) + 1 <= high:
            best: tuple[float, PartitionKey] | None = None
            for key in self.held[src]:
                size = self.size[key]
                if not 0 < size < gap or dst in self.parts[key]:
                    continue
                if not self._rack_ok(key, src, dst):
                    continue
                rank = (abs(size - gap / 2), key)
                if best is None or rank < best:
                    best = rank
            if best is not None:
                self._move(best[1], src, dst)
                return True
        # A swap keeps both counts: src's partition p for dst's smaller partition q.
        mine = [k for k in self.held[src] if dst not in self.parts[k]]
        theirs = [k for k in self.held[dst] if src not in self.parts[k]]
        best_swap: tuple[float, PartitionKey, PartitionKey] | None = None
        for p in mine:
            for q in theirs:
                delta = self.size[p] - self.size[q]
                if not 0 < delta < gap:
                    continue
                if not (self._rack_ok(p, src, dst) and self._rack_ok(q, dst, src)):
                    continue
                swap = (abs(delta - gap / 2), p, q)
                if best_swap is None or swap < best_swap:
                    best_swap = swap
        if best_swap is None:
            return False
        _, p, q = best_swap
        self._move(p, src, dst)
        self._move(q, dst, src)
        return True

    # --- leaders -----------------------------------------------------------------------
    def balance_leaders(self, active: Sequence[int]) -> None:
        """Even preferred leaders by moving another replica of a partition to the front.
        Partitions that already move are reordered first: that adds no reassignment."""
        active_set = set(active)
        limit = 2 * len(self.parts) + 10
        for _ in range(limit):
            if not self._one_leader_swap(active, active_set):
                return

    def _one_leader_swap(self, active: Sequence[int], active_set: set[int]) -> bool:
        for src in sorted(active, key=lambda b: (-self.leaders[b], b)):
            best: tuple[Any, ...] | None = None
            for key in self.held[src]:
                reps = self.parts[key]
                if reps[0] != src:
                    continue
                for b in reps[1:]:
                    if b not in active_set or self.leaders[src] - self.leaders[b] < 2:
                        continue
                    unchanged = tuple(reps) == self.original[key]
                    rank = (unchanged, self.leaders[b], b, key)
                    if best is None or rank < best:
                        best = rank
            if best is not None:
                _, _, b, key = best
                reps = self.parts[key]
                reps.remove(b)
                reps.insert(0, b)
                self.leaders[src] -= 1
                self.leaders[b] += 1
                return True
        return False
