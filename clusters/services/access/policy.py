"""IAM-style access policies compiled to Kafka ACL bindings (a pure module: no DB, no Kafka).

Grammar (a subset of AWS IAM's, with MSK's ``kafka-cluster:`` actions)::

    {"Version": "2012-10-17",
     "Statement": [{"Sid": "optional", "Effect": "Allow" | "Deny",
                    "Action": "kafka-cluster:<Action or pattern>" | [...],
                    "Resource": "<resource>" | [...]}]}

Resources name things of ONE cluster, with short names (the wire prefix is added here)::

    skiff:kafka:<team>:cluster/<cluster>
    skiff:kafka:<team>:topic/<cluster>/<name>            exact name   -> LITERAL  <prefix><name>
    skiff:kafka:<team>:topic/<cluster>/<start>*          trailing '*' -> PREFIXED <prefix><start>
    skiff:kafka:<team>:group/<cluster>/...               (same rules)
    skiff:kafka:<team>:transactional-id/<cluster>/...    (same rules)
    *                                                    every resource of this cluster

A '*' anywhere else (or '?') is rejected: Kafka patterns are exact or prefix, nothing else. A
resource of another team or cluster is rejected. Actions accept IAM wildcards ('*', '?',
case-insensitive), e.g. ``kafka-cluster:*Topic`` = Create/Describe/Alter/DeleteTopic.

Decisions (documented in README, "Access keys and policies"):
- Deny statements become DENY bindings on host '*'; Kafka evaluates DENY before ALLOW.
- Allow bindings get one binding per allowed client IP of the cluster (host '*' when none).
- Implied permissions: an Allow of an action also grants the actions IAM says it needs *on the
  same resource* (ReadData/WriteData/AlterTopic/DeleteTopic -> DescribeTopic, AlterGroup/
  DeleteGroup -> DescribeGroup, AlterTransactionalId -> DescribeTransactionalId,
  AlterTopicDynamicConfiguration -> DescribeTopicDynamicConfiguration). Needs on *another*
  resource (ReadData needs a group; AlterTransactionalId and WriteDataIdempotently need
  WriteData) cannot be guessed, so they are reported as warnings (the policy is still valid:
  a consumer with manual assignment needs no group).
- Connect and DescribeCluster compile to nothing: every authenticated key may connect and read
  broker metadata. Skiff never grants DESCRIBE on the shared cell's CLUSTER resource, because on
  a shared cell it would list every tenant's consumer groups, ACLs and users. The only CLUSTER
  operation a key can get is IDEMPOTENT_WRITE (WriteDataIdempotently), which reaches no data.
- AlterCluster and the cluster dynamic-configuration actions do not exist on serverless.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from console.errors import ValidationFailed
from fleet.kafka.types import AclBinding, PatternTypeName, PermissionName, ResourceTypeName

KAFKA_CLUSTER_RESOURCE = "kafka-cluster"  # the CLUSTER resource's name in Kafka
VERSIONS = ("2012-10-17", "2008-10-17")
DEFAULT_VERSION = "2012-10-17"
ACTION_SERVICE = "kafka-cluster"
MAX_STATEMENTS = 50
MAX_WIRE_NAME = 249  # Kafka's topic name limit; applied to groups and transactional ids too
NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class ActionSpec:
    name: str
    resource: str  # "cluster" | "topic" | "group" | "transactional-id"
    operation: str | None  # Kafka ACL operation; None: nothing to grant (Connect, DescribeCluster)
    implies: tuple[str, ...] = ()  # same-resource actions IAM says it also needs


ACTIONS: dict[str, ActionSpec] = {
    a.name: a
    for a in (
        ActionSpec("Connect", "cluster", None),
        ActionSpec("DescribeCluster", "cluster", None),
        ActionSpec("WriteDataIdempotently", "cluster", "IDEMPOTENT_WRITE"),
        ActionSpec("CreateTopic", "topic", "CREATE"),
        ActionSpec("DescribeTopic", "topic", "DESCRIBE"),
        ActionSpec("AlterTopic", "topic", "ALTER", ("DescribeTopic",)),
        ActionSpec("DeleteTopic", "topic", "DELETE", ("DescribeTopic",)),
        ActionSpec("DescribeTopicDynamicConfiguration", "topic", "DESCRIBE_CONFIGS"),
        ActionSpec(
            "AlterTopicDynamicConfiguration",
            "topic",
            "ALTER_CONFIGS",
            ("DescribeTopicDynamicConfiguration",),
        ),
        ActionSpec("ReadData", "topic", "READ", ("DescribeTopic",)),
        ActionSpec("WriteData", "topic", "WRITE", ("DescribeTopic",)),
        ActionSpec("DescribeGroup", "group", "DESCRIBE"),
        ActionSpec("AlterGroup", "group", "READ", ("DescribeGroup",)),
        ActionSpec("DeleteGroup", "group", "DELETE", ("DescribeGroup",)),
        ActionSpec("DescribeTransactionalId", "transactional-id", "DESCRIBE"),
        ActionSpec(
            "AlterTransactionalId", "transactional-id", "WRITE", ("DescribeTransactionalId",)
        ),
    )
}
NOT_ON_SERVERLESS = (
    "AlterCluster",
    "DescribeClusterDynamicConfiguration",
    "AlterClusterDynamicConfiguration",
)
RESOURCE_TYPES: dict[str, ResourceTypeName] = {
    "cluster": "CLUSTER",
    "topic": "TOPIC",
    "group": "GROUP",
    "transactional-id": "TRANSACTIONAL_ID",
}
RESOURCE_EXAMPLE = {
    "cluster": "skiff:kafka:{team}:cluster/{cluster}",
    "topic": "skiff:kafka:{team}:topic/{cluster}/*",
    "group": "skiff:kafka:{team}:group/{cluster}/*",
    "transactional-id": "skiff:kafka:{team}:transactional-id/{cluster}/*",
}
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource"}
_UNSUPPORTED_KEYS = {
    "NotAction": "NotAction is not supported: list the actions to allow or deny.",
    "NotResource": "NotResource is not supported: list the resources.",
    "Condition": "Condition is not supported: Kafka ACLs cannot express conditions "
    "(client addresses come from the cluster's allow-list).",
    "Principal": "Principal is not supported: a policy is attached to one access key, "
    "which is its principal.",
    "NotPrincipal": "NotPrincipal is not supported: a policy is attached to one access key.",
}


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyProblem:
    statement: int | None  # 1-based statement number; None: the document itself
    sid: str | None
    message: str

    def __str__(self) -> str:
        if self.statement is None:
            return self.message
        where = f"Statement {self.statement}"
        if self.sid:
            where += f" (Sid '{self.sid}')"
        return f"{where}: {self.message}"


class PolicyInvalid(ValidationFailed):
    """A policy that cannot be compiled (400). ``problems`` point at the offending statements.

    Still a Django ValidationError (as every ValidationFailed), keyed by the form's field.
    """

    code = "policy_invalid"

    def __init__(self, problems: list[PolicyProblem], field_name: str = "policy_document"):
        self.problems = problems
        super().__init__({field_name: [str(p) for p in problems]})


@dataclass(frozen=True)
class CompiledBinding:
    binding: AclBinding
    statement: int  # 1-based
    action: str
    implied: bool  # added because another action of the statement needs it


@dataclass
class CompiledPolicy:
    document: dict
    bindings: list[AclBinding]
    explained: list[CompiledBinding]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Resource:
    kind: str  # key of RESOURCE_TYPES
    wire_name: str
    pattern: PatternTypeName


@dataclass(frozen=True)
class ClusterScope:
    """What a policy is compiled for: the cluster's team slug and name (prefix derived)."""

    team: str
    cluster: str

    @property
    def prefix(self) -> str:
        return f"{self.team}.{self.cluster}."

    @classmethod
    def of(cls, cluster: Any) -> ClusterScope:
        if isinstance(cluster, ClusterScope):
            return cluster
        return cls(team=cluster.team.slug, cluster=cluster.name)


# --- parsing ----------------------------------------------------------------------------------


def _as_list(value: Any) -> list | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def expand_action(pattern: str) -> tuple[list[str] | None, str | None]:
    """(matching action names, error) for one Action entry."""
    matches, error = _expand_action(pattern)
    return (None if matches is None else list(matches)), error


@functools.lru_cache(maxsize=1024)
def _expand_action(pattern: str) -> tuple[tuple[str, ...] | None, str | None]:
    # Cached: the reconciler compiles every key's policy each pass, and the same few patterns
    # come back for every key (a fresh regex per action per key was a third of a pass).
    service, sep, name = pattern.partition(":")
    if not sep or service.lower() != ACTION_SERVICE:
        return None, (
            f"Action '{pattern}' is not a Kafka action: write 'kafka-cluster:<Action>', "
            "e.g. 'kafka-cluster:ReadData'."
        )
    if not name or not re.fullmatch(r"[A-Za-z*?]+", name):
        return None, f"Action '{pattern}' has an invalid action name."
    wildcard = "*" in name or "?" in name
    regex = re.compile(fnmatch.translate(name.lower()))
    matches = tuple(a for a in ACTIONS if regex.match(a.lower()))
    if matches:
        return matches, None
    if not wildcard and name.lower() in {a.lower() for a in NOT_ON_SERVERLESS}:
        return None, f"Action '{pattern}' does not exist on serverless clusters."
    if wildcard:
        return None, f"Action pattern '{pattern}' matches no kafka-cluster action."
    return None, (
        f"Unknown action '{pattern}'. Known actions: "
        + ", ".join(f"kafka-cluster:{a}" for a in ACTIONS)
        + "."
    )


def parse_resource(text: str, scope: ClusterScope) -> tuple[list[_Resource] | None, str | None]:
    """(resources, error) for one Resource entry."""
    if text == "*":
        return [
            _Resource("cluster", KAFKA_CLUSTER_RESOURCE, "LITERAL"),
            _Resource("topic", scope.prefix, "PREFIXED"),
            _Resource("group", scope.prefix, "PREFIXED"),
            _Resource("transactional-id", scope.prefix, "PREFIXED"),
        ], None
    parts = text.split(":", 3)
    if len(parts) != 4 or parts[0] != "skiff" or parts[1] != "kafka":
        return None, (
            f"Resource '{text}' is not a Skiff resource: write e.g. "
            f"'skiff:kafka:{scope.team}:topic/{scope.cluster}/orders'."
        )
    team, rest = parts[2], parts[3]
    if team != scope.team:
        if "*" in team or "?" in team:
            return None, (
                f"Resource '{text}': wildcards in the team are not allowed; a policy can only "
                f"name resources of team '{scope.team}'."
            )
        return None, (
            f"Resource '{text}' belongs to team '{team}', not to this cluster's team "
            f"'{scope.team}'."
        )
    kind, slash, after = rest.partition("/")
    if kind not in RESOURCE_TYPES or not slash:
        return None, (
            f"Resource '{text}': the resource type must be one of "
            + ", ".join(f"'{k}/'" for k in RESOURCE_TYPES)
            + "."
        )
    cluster, slash, name = after.partition("/")
    if cluster != scope.cluster:
        if "*" in cluster or "?" in cluster:
            return None, (
                f"Resource '{text}': wildcards in the cluster name are not allowed; a policy "
                f"can only name resources of cluster '{scope.cluster}'."
            )
        return None, (
            f"Resource '{text}' belongs to cluster '{cluster}', not to '{scope.cluster}': a "
            "key's policy can only reach its own cluster."
        )
    if kind == "cluster":
        if slash:
            return None, (
                f"Resource '{text}': the cluster resource is written "
                f"'skiff:kafka:{scope.team}:cluster/{scope.cluster}' with nothing after it."
            )
        return [_Resource("cluster", KAFKA_CLUSTER_RESOURCE, "LITERAL")], None
    if not slash or not name:
        return None, (
            f"Resource '{text}' names no {kind}: add '/<name>', '/<prefix>*' or '/*' after "
            "the cluster name."
        )
    pattern: PatternTypeName = "LITERAL"
    if name.endswith("*"):
        pattern, name = "PREFIXED", name[:-1]
    if "*" in name or "?" in name:
        return None, (
            f"Resource '{text}': Kafka ACLs match an exact name or a name prefix only, so '*' "
            "may only be the last character (and '?' is not supported)."
        )
    if name and not NAME_RE.match(name):
        return None, (f"Resource '{text}': names may use letters, digits, '.', '_' and '-' only.")
    wire = scope.prefix + name
    if len(wire) > MAX_WIRE_NAME:
        return None, (
            f"Resource '{text}' is too long (at most {MAX_WIRE_NAME} characters on the wire)."
        )
    return [_Resource(kind, wire, pattern)], None


def _statements(policy: Any) -> tuple[list, list[PolicyProblem]]:
    if isinstance(policy, str):
        import json

        try:
            policy = json.loads(policy)
        except ValueError as exc:
            return [], [PolicyProblem(None, None, f"The policy is not valid JSON: {exc}.")]
    if not isinstance(policy, dict):
        return [], [PolicyProblem(None, None, "A policy must be a JSON object.")]
    problems = []
    extra = set(policy) - {"Version", "Statement", "Id"}
    if extra:
        problems.append(
            PolicyProblem(
                None, None, f"Unknown top-level key(s): {', '.join(sorted(map(str, extra)))}."
            )
        )
    if policy.get("Version") not in VERSIONS:
        problems.append(
            PolicyProblem(None, None, f"'Version' must be \"{DEFAULT_VERSION}\" (IAM's version).")
        )
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        problems.append(PolicyProblem(None, None, "'Statement' must be a non-empty list."))
        return [], problems
    if len(statements) > MAX_STATEMENTS:
        problems.append(
            PolicyProblem(None, None, f"A policy may have at most {MAX_STATEMENTS} statements.")
        )
        return [], problems
    return statements, problems


# --- compiling --------------------------------------------------------------------------------


def analyze_policy(
    policy: Any, *, cluster: Any, username: str, hosts: list[str] | tuple[str, ...] = ()
) -> CompiledPolicy:
    """Validate and compile; raises PolicyInvalid listing every problem found."""
    scope = ClusterScope.of(cluster)
    principal = f"User:{username}"
    allow_hosts = tuple(hosts) or ("*",)
    statements, problems = _statements(policy)
    explained: list[CompiledBinding] = []
    allowed_actions: set[str] = set()
    for number, statement in enumerate(statements, start=1):
        if not isinstance(statement, dict):
            problems.append(PolicyProblem(number, None, "A statement must be a JSON object."))
            continue
        sid = statement.get("Sid") if isinstance(statement.get("Sid"), str) else None
        found = _compile_statement(number, sid, statement, scope, principal, allow_hosts)
        if isinstance(found, list) and found and isinstance(found[0], PolicyProblem):
            problems.extend(found)
            continue
        explained.extend(found[0])
        if statement.get("Effect") == "Allow":
            allowed_actions |= found[1]
    if problems:
        raise PolicyInvalid(problems)
    bindings = sorted(dict.fromkeys(e.binding for e in explained))
    return CompiledPolicy(
        document=policy if isinstance(policy, dict) else {},
        bindings=bindings,
        explained=explained,
        warnings=_warnings(allowed_actions),
    )


def compile_policy_to_acls(
    policy: Any, *, cluster: Any, username: str, hosts: list[str] | tuple[str, ...] = ()
) -> list[AclBinding]:
    """The exact ACL bindings a policy stands for (sorted, unique). Raises PolicyInvalid.

    ``cluster`` is a Cluster (its team's slug and name are used) or a ClusterScope.
    """
    return analyze_policy(policy, cluster=cluster, username=username, hosts=hosts).bindings


def _compile_statement(number, sid, statement, scope, principal, allow_hosts):
    problems: list[PolicyProblem] = []

    def problem(message: str) -> None:
        problems.append(PolicyProblem(number, sid, message))

    for key in statement:
        if key in _UNSUPPORTED_KEYS:
            problem(_UNSUPPORTED_KEYS[key])
        elif key not in _STATEMENT_KEYS:
            problem(f"Unknown key '{key}' (allowed: Sid, Effect, Action, Resource).")
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        problem("'Sid' must be a string.")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        problem('\'Effect\' must be "Allow" or "Deny".')
    actions_raw = _as_list(statement.get("Action"))
    if actions_raw is None:
        problem("'Action' must be a string or a non-empty list of strings.")
        actions_raw = []
    resources_raw = _as_list(statement.get("Resource"))
    if resources_raw is None:
        problem("'Resource' must be a string or a non-empty list of strings.")
        resources_raw = []

    explicit: set[str] = set()
    actions: list[str] = []
    for entry in actions_raw:
        matched, error = expand_action(entry)
        if error:
            problem(error)
            continue
        assert matched is not None  # expand_action gives either the names or an error
        if "*" not in entry and "?" not in entry:
            explicit.update(matched)
        actions.extend(a for a in matched if a not in actions)
    resources: list[_Resource] = []
    for entry in resources_raw:
        parsed, error = parse_resource(entry, scope)
        if error:
            problem(error)
            continue
        assert parsed is not None  # parse_resource gives either the resources or an error
        resources.extend(r for r in parsed if r not in resources)
    if problems:
        return problems

    kinds = {r.kind for r in resources}
    for action in sorted(explicit):
        spec = ACTIONS[action]
        if spec.operation is not None and spec.resource not in kinds:
            example = RESOURCE_EXAMPLE[spec.resource].format(team=scope.team, cluster=scope.cluster)
            problem(
                f"kafka-cluster:{action} applies to {spec.resource} resources and this statement "
                f"lists none (add e.g. '{example}')."
            )
    if effect == "Deny" and {"Connect", "DescribeCluster"} & explicit:
        problem(
            "Denying Connect or DescribeCluster is not supported: every key may connect and "
            "read broker metadata. To stop a key from connecting, revoke it."
        )
    if problems:
        return problems

    out: list[CompiledBinding] = []
    hosts = allow_hosts if effect == "Allow" else ("*",)
    permission: PermissionName = "ALLOW" if effect == "Allow" else "DENY"
    effective: set[str] = set()
    for action in actions:
        spec = ACTIONS[action]
        if spec.operation is None:
            # Connect / DescribeCluster: nothing to grant, whatever resources are listed.
            effective.add(action)
            continue
        granted = [(action, False)]
        if effect == "Allow":
            granted += [(implied, True) for implied in spec.implies]
        for resource in resources:
            if resource.kind != spec.resource:
                continue
            effective.add(action)
            for name, implied in granted:
                operation = ACTIONS[name].operation
                if operation is None:
                    continue
                for host in hosts:
                    out.append(
                        CompiledBinding(
                            AclBinding(
                                RESOURCE_TYPES[resource.kind],
                                resource.wire_name,
                                resource.pattern,
                                principal,
                                host,
                                operation,
                                permission,
                            ),
                            number,
                            name,
                            implied,
                        )
                    )
    no_binding_only = effective and all(ACTIONS[a].operation is None for a in effective)
    if not effective:
        problem(
            "No action of this statement applies to its resources, so it grants or denies "
            "nothing (topic actions need topic resources, group actions group resources…)."
        )
        return problems
    if not out and not no_binding_only:
        problem("This statement compiles to no ACL binding.")
        return problems
    return out, effective


def _warnings(allowed: set[str]) -> list[str]:
    warnings = []
    if "ReadData" in allowed and "AlterGroup" not in allowed:
        warnings.append(
            "ReadData without AlterGroup: consumers cannot join a consumer group or commit "
            "offsets (only manually assigned partitions can be read)."
        )
    if "AlterGroup" in allowed and "ReadData" not in allowed:
        warnings.append("AlterGroup without ReadData: the key can join groups but read no topic.")
    if "AlterTransactionalId" in allowed and "WriteData" not in allowed:
        warnings.append(
            "AlterTransactionalId without WriteData: a transactional producer also needs to "
            "write to its topics."
        )
    if "WriteDataIdempotently" in allowed and "WriteData" not in allowed:
        warnings.append("WriteDataIdempotently without WriteData: the key can write no topic.")
    return warnings


# --- templates, expressed as policies ---------------------------------------------------------


def _arn(scope: ClusterScope, kind: str, name: str | None = None) -> str:
    if kind == "cluster":
        return f"skiff:kafka:{scope.team}:cluster/{scope.cluster}"
    return f"skiff:kafka:{scope.team}:{kind}/{scope.cluster}/{name}"


def _statement(sid: str, actions: list[str], resources: list[str], effect: str = "Allow"):
    return {
        "Sid": sid,
        "Effect": effect,
        "Action": [f"kafka-cluster:{a}" for a in actions],
        "Resource": resources,
    }


@dataclass(frozen=True)
class PolicyTemplateSpec:
    key: str
    label: str
    description: str


TEMPLATES: dict[str, PolicyTemplateSpec] = {
    t.key: t
    for t in (
        PolicyTemplateSpec(
            "admin",
            "Admin of this cluster",
            "Every action on every topic, group and transactional id of the cluster.",
        ),
        PolicyTemplateSpec(
            "produce_consume",
            "Produce and consume all topics",
            "Idempotent and transactional producer plus consumer on every topic of the cluster.",
        ),
        PolicyTemplateSpec("producer", "Producer", "Write to every topic of the cluster."),
        PolicyTemplateSpec(
            "idempotent_producer",
            "Idempotent producer",
            "Write to every topic with enable.idempotence=true.",
        ),
        PolicyTemplateSpec(
            "transactional_producer",
            "Transactional producer",
            "Idempotent writes plus the cluster's transactional ids.",
        ),
        PolicyTemplateSpec(
            "consumer",
            "Consumer",
            "Read every topic and use (join, commit) every consumer group of the cluster.",
        ),
        PolicyTemplateSpec(
            "read_only",
            "Read only",
            "Consumer plus reading topic configurations and transactional ids; no writes.",
        ),
        PolicyTemplateSpec(
            "topic_admin",
            "Topic admin",
            "Create, alter, configure and delete topics; no data access.",
        ),
    )
}


def template_policy(template: str, cluster: Any) -> dict:
    """The policy document a template stands for, for one cluster."""
    s = ClusterScope.of(cluster)
    topics, groups = _arn(s, "topic", "*"), _arn(s, "group", "*")
    txn, cluster_arn = _arn(s, "transactional-id", "*"), _arn(s, "cluster")
    produce = ["Connect", "DescribeTopic", "WriteData"]
    consume_topics = ["Connect", "DescribeTopic", "ReadData"]
    groups_stmt = _statement("UseGroups", ["DescribeGroup", "AlterGroup"], [groups])
    statements: list[dict]
    if template == "admin":
        statements = [
            _statement("AdminOfCluster", ["*"], [cluster_arn, topics, groups, txn]),
        ]
        statements[0]["Action"] = "kafka-cluster:*"
    elif template == "producer":
        statements = [_statement("Produce", produce, [topics])]
    elif template == "idempotent_producer":
        statements = [
            _statement("Produce", produce, [topics]),
            _statement("Idempotence", ["WriteDataIdempotently"], [cluster_arn]),
        ]
    elif template == "transactional_producer":
        statements = [
            _statement("Produce", produce, [topics]),
            _statement("Idempotence", ["WriteDataIdempotently"], [cluster_arn]),
            _statement("Transactions", ["DescribeTransactionalId", "AlterTransactionalId"], [txn]),
        ]
    elif template == "consumer":
        statements = [_statement("Consume", consume_topics, [topics]), groups_stmt]
    elif template == "read_only":
        statements = [
            _statement(
                "ReadTopics", [*consume_topics, "DescribeTopicDynamicConfiguration"], [topics]
            ),
            groups_stmt,
            _statement("DescribeTransactions", ["DescribeTransactionalId"], [txn]),
        ]
    elif template == "produce_consume":
        statements = [
            _statement(
                "ProduceAndConsume",
                [
                    "Connect",
                    "DescribeTopic",
                    "ReadData",
                    "WriteData",
                    "DescribeTopicDynamicConfiguration",
                ],
                [topics],
            ),
            groups_stmt,
            _statement("Idempotence", ["WriteDataIdempotently"], [cluster_arn]),
            _statement("Transactions", ["DescribeTransactionalId", "AlterTransactionalId"], [txn]),
        ]
    elif template == "topic_admin":
        statements = [
            _statement(
                "ManageTopics",
                [
                    "Connect",
                    "CreateTopic",
                    "DescribeTopic",
                    "AlterTopic",
                    "DeleteTopic",
                    "DescribeTopicDynamicConfiguration",
                    "AlterTopicDynamicConfiguration",
                ],
                [topics],
            )
        ]
    else:
        raise ValueError(f"unknown policy template {template!r}")
    return {"Version": DEFAULT_VERSION, "Statement": statements}


# --- presentation -----------------------------------------------------------------------------


def short_resource_name(binding: AclBinding, prefix: str) -> str:
    """How the console shows a binding's resource: short names, '*' for a prefix pattern."""
    if binding.resource_type == "CLUSTER":
        return "(cluster)"
    name = binding.resource_name.removeprefix(prefix)
    if binding.pattern_type == "PREFIXED":
        return f"{name}*"
    return name
