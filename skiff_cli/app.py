"""The `skiff` command: groups of commands over the console's REST API.

Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 permission (also a wrong token),
5 cell or console unavailable. Errors go to standard error as one line with the API's message.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from skiff_cli import config
from skiff_cli.api import Api
from skiff_cli.errors import (
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CliError,
)
from skiff_cli.kafka_io import KafkaTarget, consume, produce_lines
from skiff_cli.output import Format, emit, err, human_bytes, out

HELP = __doc__

app = typer.Typer(
    name="skiff",
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
clusters_app = typer.Typer(help="Serverless clusters: create, list, describe, delete, CA.")
topics_app = typer.Typer(help="Topics of a cluster.")
groups_app = typer.Typer(help="Consumer groups of a cluster: lag and offset resets.")
keys_app = typer.Typer(help="Access keys (SCRAM users) of a cluster and their policies.")
policy_app = typer.Typer(help="A key's policy: get, set (or --dry-run to see the ACLs).")
invoices_app = typer.Typer(help="The team's invoices: list and download PDF or CSV.")
finance_app = typer.Typer(help="Platform staff: the month's finance export.")
app.add_typer(clusters_app, name="clusters", no_args_is_help=True)
app.add_typer(topics_app, name="topics", no_args_is_help=True)
app.add_typer(groups_app, name="groups", no_args_is_help=True)
app.add_typer(keys_app, name="keys", no_args_is_help=True)
keys_app.add_typer(policy_app, name="policy", no_args_is_help=True)
app.add_typer(invoices_app, name="invoices", no_args_is_help=True)
app.add_typer(finance_app, name="finance", no_args_is_help=True)

OutputOpt = Annotated[
    Format, typer.Option("--output", "-o", help="table for people; json or yaml for scripts.")
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        "-c",
        envvar="SKIFF_CLUSTER",
        help="Cluster id or name (default: the one set with `skiff clusters use`).",
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


class State:
    profile_name: str | None = None


state = State()


@app.callback()
def main_options(
    profile: Annotated[
        str | None,
        typer.Option("--profile", "-p", envvar="SKIFF_PROFILE", help="Profile to use."),
    ] = None,
) -> None:
    state.profile_name = profile


def _api() -> tuple[Api, config.Profile]:
    chosen = config.profile(state.profile_name)
    return Api(chosen.url, chosen.token), chosen


class Spinner:
    """A status spinner on standard error for long calls; silent when it is not a terminal."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._status = err.status(text) if err.is_terminal else None

    def __enter__(self) -> Spinner:
        if self._status is not None:
            self._status.__enter__()
        return self

    def update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values or []:
        key, found, value = item.partition("=")
        if not found or not key:
            raise CliError(f"{what} must be KEY=VALUE, not {item!r}.", exit_code=EXIT_USAGE)
        result[key] = value
    return result


# --- sign-in -------------------------------------------------------------------------------


@app.command()
def login(
    url: Annotated[str, typer.Option("--url", help="The console's address.")],
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="Store as this profile.")
    ] = None,
) -> None:
    """Sign in with an API token (Team → API tokens), read from a prompt or standard input.

    The token is never an argument, so it does not land in shell history.
    """
    name = profile or state.profile_name or config.DEFAULT_PROFILE
    if sys.stdin.isatty():
        token = typer.prompt("API token", hide_input=True)
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise CliError("No token given.", exit_code=EXIT_USAGE)
    team = Api(url, token).get("team/")
    data = config.load_config()
    data["profiles"].setdefault(name, {}).update({"url": url.rstrip("/"), "token": token})
    data["current_profile"] = name
    path = config.save_config(data)
    out.print(
        f"Logged in to {url.rstrip('/')} as {team['user']}, team {team['name']} "
        f"({team['role']}). Profile '{name}' saved in {path} (owner-only)."
    )


@app.command()
def logout() -> None:
    """Forget the current profile's token and stored keys."""
    name = config.selected_profile_name(state.profile_name)
    if config.forget_profile(name):
        out.print(f"Profile '{name}' removed.")
    else:
        out.print(f"No profile '{name}'.")


@app.command()
def whoami(output: OutputOpt = Format.table) -> None:
    """The user, team and role the token acts as."""
    api, chosen = _api()
    team = api.get("team/")
    if output is Format.table:
        emit(
            {**team, "console": chosen.url, "profile": chosen.name},
            output,
            columns=[
                ("User", "user"),
                ("Team", "name"),
                ("Role", "role"),
                ("Console", "console"),
                ("Profile", "profile"),
            ],
        )
    else:
        emit(team, output)


# --- clusters ------------------------------------------------------------------------------

CLUSTER_COLUMNS = [
    ("ID", "id"),
    ("Name", "name"),
    ("State", "state"),
    ("Bootstrap servers", "bootstrap_servers"),
    ("Tags", "tags"),
    ("Created", "created_at"),
]


def _resolve_cluster(api: Api, chosen: config.Profile, ref: str | None) -> dict[str, Any]:
    ref = ref or chosen.default_cluster
    if not ref:
        raise CliError(
            "Name the cluster with --cluster (or set one: skiff clusters use NAME).",
            exit_code=EXIT_USAGE,
        )
    if ref.isdigit():
        return api.get(f"clusters/{int(ref)}/")
    matches = [c for c in api.all("clusters/") if c["name"] == ref]
    if not matches:
        raise CliError(f"No cluster named '{ref}' in this team.", exit_code=EXIT_NOT_FOUND)
    return matches[0]


@clusters_app.command("create")
def clusters_create(
    name: str,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE, repeatable.")] = None,
    allowed_ip: Annotated[
        list[str] | None,
        typer.Option("--allowed-ip", help="Client IP or CIDR allowed to connect, repeatable."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until ACTIVE.")] = False,
    ca_out: Annotated[
        Path | None, typer.Option("--ca-out", help="With --wait: write the CA here.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 300,
    output: OutputOpt = Format.table,
) -> None:
    """Create a serverless cluster. The initial key's secret is shown once: keep it."""
    api, chosen = _api()
    body: dict[str, Any] = {"name": name, "type": "serverless", "tags": _pairs(tag, "--tag")}
    if allowed_ip:
        body["network"] = {"allowed_client_ips": allowed_ip}
    with Spinner(f"Creating {name}…"):
        created = api.post("clusters/", body)
    initial_key = created.get("initial_key") or {}
    if initial_key.get("secret"):
        config.store_key(
            chosen.name,
            cluster_id=created["id"],
            username=initial_key["username"],
            secret=initial_key["secret"],
        )
    cluster = created
    if wait:
        deadline = time.monotonic() + timeout
        with Spinner(f"Waiting for {name} to become ACTIVE…") as spinner:
            while cluster["state"] not in ("ACTIVE", "FAILED"):
                if time.monotonic() > deadline:
                    raise CliError(
                        f"Cluster {name} is still {cluster['state']} after {timeout:.0f} s.",
                        exit_code=EXIT_UNAVAILABLE,
                    )
                # The console holds this answer until the cluster is ACTIVE or FAILED (at
                # most `wait` s), so the loop asks again only to update the spinner.
                wait = max(0.0, min(5.0, deadline - time.monotonic()))
                asked = time.monotonic()
                cluster = api.get(f"clusters/{created['id']}/", wait=f"{wait:.1f}")
                if cluster["state"] == "CREATING" and time.monotonic() - asked < 0.3:
                    time.sleep(0.3)  # a console without ?wait= answers at once: poll gently
                spinner.update(f"{name}: {cluster['state']} {cluster.get('progress') or ''}")
        if cluster["state"] == "FAILED":
            raise CliError(
                f"Cluster {name} failed: {cluster.get('state_reason') or 'no reason given'}",
                exit_code=EXIT_UNAVAILABLE,
            )
        if ca_out is not None:
            _write_private(ca_out, api.download(f"clusters/{cluster['id']}/ca.pem"), mode=0o644)
    result = {**cluster, "initial_key": initial_key}
    if output is not Format.table:
        emit(result, output)
        return
    emit(cluster, output, columns=CLUSTER_COLUMNS)
    out.print()
    out.print(f"Initial key:   {initial_key.get('username')}")
    out.print(f"Secret:        {initial_key.get('secret')}   (shown once; stored for produce)")
    if ca_out is not None and wait:
        out.print(f"CA written to: {ca_out}")


@clusters_app.command("list")
def clusters_list(output: OutputOpt = Format.table) -> None:
    """The team's clusters."""
    api, _ = _api()
    emit(api.all("clusters/"), output, columns=CLUSTER_COLUMNS)


@clusters_app.command("describe")
def clusters_describe(cluster: str, output: OutputOpt = Format.table) -> None:
    """One cluster, by id or name."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    emit(
        found,
        output,
        columns=[
            *CLUSTER_COLUMNS,
            ("Prefix", "prefix"),
            ("Allowed client IPs", "allowed_client_ips"),
            ("Limits", "limits"),
        ],
    )


@clusters_app.command("delete")
def clusters_delete(cluster: str, yes: YesOpt = False, output: OutputOpt = Format.table) -> None:
    """Delete a cluster and every topic and key in it."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("Refusing to delete without --yes (not a terminal).", exit_code=2)
        typer.confirm(f"Delete cluster {found['name']} and all its data?", abort=True)
    deleted = api.delete(f"clusters/{found['id']}/")
    if output is Format.table:
        out.print(f"Cluster {found['name']} is being deleted ({deleted['state']}).")
    else:
        emit(deleted, output)


@clusters_app.command("ca")
def clusters_ca(
    cluster: str,
    out_file: Annotated[Path | None, typer.Option("--out", "-O", help="Write to a file.")] = None,
) -> None:
    """The CA certificate clients use to verify the cluster's TLS listener (PEM)."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    pem = api.download(f"clusters/{found['id']}/ca.pem")
    if out_file is None:
        sys.stdout.write(pem.decode())
    else:
        _write_private(out_file, pem, mode=0o644)
        out.print(f"CA written to {out_file}")


@clusters_app.command("use")
def clusters_use(cluster: str) -> None:
    """Make a cluster the default for topics, groups, keys, produce and consume."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    config.update_profile(chosen.name, default_cluster=str(found["id"]))
    out.print(f"Using cluster {found['name']} (id {found['id']}).")


# --- topics --------------------------------------------------------------------------------

TOPIC_COLUMNS = [
    ("Name", "name"),
    ("Partitions", "partitions"),
    ("RF", "replication_factor"),
    ("Messages", "messages"),
    ("Size", lambda r: human_bytes(r.get("size_bytes"))),
    ("Cleanup", "cleanup_policy"),
]


@topics_app.command("create")
def topics_create(
    name: str,
    partitions: Annotated[int | None, typer.Option(help="Default: the platform's.")] = None,
    config_value: Annotated[
        list[str] | None, typer.Option("--config", help="KEY=VALUE, repeatable.")
    ] = None,
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """Create a topic (short name; the cluster's prefix is added on the wire)."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    body: dict[str, Any] = {"name": name, "configs": _pairs(config_value, "--config")}
    if partitions is not None:
        body["partitions"] = partitions
    created = api.post(f"clusters/{found['id']}/topics/", body)
    if output is Format.table:
        out.print(f"Topic {name} created in {found['name']}.")
    else:
        emit(created, output)


@topics_app.command("list")
def topics_list(
    search: Annotated[str | None, typer.Option(help="Substring of the name.")] = None,
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """The cluster's topics."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    rows = api.all(f"clusters/{found['id']}/topics/", search=search, page_size=500)
    emit(rows, output, columns=TOPIC_COLUMNS)


@topics_app.command("describe")
def topics_describe(name: str, cluster: ClusterOpt = None, output: OutputOpt = Format.table):
    """A topic's partitions, configs and consumer groups."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    topic = api.get(f"clusters/{found['id']}/topics/{name}/")
    if output is not Format.table:
        emit(topic, output)
        return
    summary = {k: v for k, v in topic.items() if not isinstance(v, list | dict)}
    emit(summary, output)
    if topic.get("partitions_detail") or isinstance(topic.get("partitions"), list):
        rows = topic.get("partitions_detail") or topic["partitions"]
        emit(rows, output, title="Partitions")
    if isinstance(topic.get("configs"), list):
        emit(
            topic["configs"],
            output,
            title="Configs",
            columns=[("Name", "name"), ("Value", "value"), ("Source", "source")],
        )


@topics_app.command("alter")
def topics_alter(
    name: str,
    config_value: Annotated[
        list[str], typer.Option("--config", help="KEY=VALUE (empty VALUE resets), repeatable.")
    ],
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """Change topic configs; `--config key=` resets one to the platform default."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    configs: dict[str, str | None] = {
        k: (v if v != "" else None) for k, v in _pairs(config_value, "--config").items()
    }
    changed = api.patch(f"clusters/{found['id']}/topics/{name}/", {"configs": configs})
    if output is Format.table:
        out.print(f"Topic {name} updated: {', '.join(configs)}.")
    else:
        emit(changed, output)


@topics_app.command("add-partitions")
def topics_add_partitions(
    name: str,
    total: Annotated[int, typer.Option("--total", help="The new total number of partitions.")],
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """Grow a topic to TOTAL partitions (partitions can't shrink)."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    result = api.post(f"clusters/{found['id']}/topics/{name}/partitions/", {"count": total})
    if output is Format.table:
        out.print(f"Topic {name} now has {total} partitions.")
    else:
        emit(result, output)


@topics_app.command("delete")
def topics_delete(name: str, yes: YesOpt = False, cluster: ClusterOpt = None) -> None:
    """Delete a topic and its messages."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("Refusing to delete without --yes (not a terminal).", exit_code=2)
        typer.confirm(f"Delete topic {name} and its messages?", abort=True)
    api.delete(f"clusters/{found['id']}/topics/{name}/")
    out.print(f"Topic {name} deleted.")


# --- consumer groups -----------------------------------------------------------------------


@groups_app.command("list")
def groups_list(cluster: ClusterOpt = None, output: OutputOpt = Format.table) -> None:
    """Consumer groups with their state, members and total lag."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    rows = api.all(f"clusters/{found['id']}/consumer-groups/")
    emit(
        rows,
        output,
        columns=[
            ("Group", "group"),
            ("State", "state"),
            ("Members", "members"),
            ("Topics", "topics"),
            ("Lag", "lag"),
        ],
    )


@groups_app.command("describe")
def groups_describe(group: str, cluster: ClusterOpt = None, output: OutputOpt = Format.table):
    """A group's members and its lag per partition."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    # A group id may hold any character ("/", "?", "#", "%"): one path segment, escaped.
    detail = api.get(f"clusters/{found['id']}/consumer-groups/{quote(group, safe='')}/")
    if output is not Format.table:
        emit(detail, output)
        return
    emit(
        detail,
        output,
        columns=[("Group", "group"), ("State", "state"), ("Lag", "lag"), ("Type", "type")],
    )
    emit(
        detail["partitions"],
        output,
        title="Lag per partition",
        columns=[
            ("Topic", "topic"),
            ("Partition", "partition"),
            ("Committed", "committed"),
            ("End", "end"),
            ("Lag", "lag"),
        ],
    )


@groups_app.command("reset-offsets")
def groups_reset_offsets(
    group: str,
    to_earliest: Annotated[bool, typer.Option("--to-earliest")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest")] = False,
    to_datetime: Annotated[
        str | None,
        typer.Option("--to-datetime", help="ISO 8601 with a zone: 2026-12-01T00:00:00Z."),
    ] = None,
    to_offset: Annotated[int | None, typer.Option("--to-offset", min=0)] = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the new offsets, commit nothing.")
    ] = False,
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """Move an empty group's committed offsets, as kafka-consumer-groups --reset-offsets does."""
    chosen_targets = [
        name
        for name, given in (
            ("earliest", to_earliest),
            ("latest", to_latest),
            ("timestamp", to_datetime is not None),
            ("offset", to_offset is not None),
        )
        if given
    ]
    if len(chosen_targets) != 1:
        raise CliError(
            "Give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset.",
            exit_code=EXIT_USAGE,
        )
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    body: dict[str, Any] = {"to": chosen_targets[0], "topic": topic}
    if to_datetime is not None:
        body["timestamp"] = to_datetime
    if to_offset is not None:
        body["offset"] = to_offset
    result = api.post(
        f"clusters/{found['id']}/consumer-groups/{quote(group, safe='')}/reset-offsets/",
        body,
        dry_run="1" if dry_run else None,
    )
    if output is not Format.table:
        emit(result, output)
        return
    emit(
        result["offsets"],
        output,
        title=("Dry run: offsets it would set" if dry_run else "Offsets set"),
        columns=[("Topic", "topic"), ("Partition", "partition"), ("New offset", "offset")],
    )


# --- keys and policies ---------------------------------------------------------------------

KEY_COLUMNS = [
    ("ID", "id"),
    ("Name", "name"),
    ("Username", "username"),
    ("Policy", "policy_template"),
    ("State", "state"),
    ("Created", "created_at"),
]


def _find_key(api: Api, cluster_id: int, ref: str) -> dict[str, Any]:
    if ref.isdigit():
        return api.get(f"clusters/{cluster_id}/keys/{int(ref)}/")
    for key in api.all(f"clusters/{cluster_id}/keys/"):
        if ref in (key["name"], key["username"]):
            return key
    raise CliError(f"No active key '{ref}' in this cluster.", exit_code=EXIT_NOT_FOUND)


@keys_app.command("create")
def keys_create(
    name: str,
    template: Annotated[
        str,
        typer.Option(
            help="admin, produce_consume, producer, idempotent_producer, "
            "transactional_producer, consumer, read_only, topic_admin."
        ),
    ] = "produce_consume",
    description: Annotated[str, typer.Option()] = "",
    store: Annotated[
        bool, typer.Option(help="Remember it for skiff produce/consume on this cluster.")
    ] = True,
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """Create a key; its secret is shown once."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    created = api.post(
        f"clusters/{found['id']}/keys/",
        {"name": name, "description": description, "policy_template": template},
    )
    _show_key_with_secret(chosen, found["id"], created, store=store, output=output)


def _show_key_with_secret(
    chosen: config.Profile, cluster_id: int, key: dict[str, Any], *, store: bool, output: Format
) -> None:
    """A key whose secret the API shows once (create, rotate): remember it, then print it."""
    if store:
        config.store_key(
            chosen.name, cluster_id=cluster_id, username=key["username"], secret=key["secret"]
        )
    if output is not Format.table:
        emit(key, output)
        return
    emit(key, output, columns=[*KEY_COLUMNS, ("Secret (shown once)", "secret")])


@keys_app.command("list")
def keys_list(
    include_revoked: Annotated[bool, typer.Option("--include-revoked")] = False,
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """The cluster's keys."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    rows = api.all(
        f"clusters/{found['id']}/keys/", include_revoked="1" if include_revoked else None
    )
    emit(rows, output, columns=KEY_COLUMNS)


@keys_app.command("rotate")
def keys_rotate(
    key: str,
    store: Annotated[bool, typer.Option(help="Remember the new secret.")] = True,
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """Give a key a new secret; the old one stops working."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    existing = _find_key(api, found["id"], key)
    rotated = api.post(f"clusters/{found['id']}/keys/{existing['id']}/rotate/")
    _show_key_with_secret(chosen, found["id"], rotated, store=store, output=output)


@keys_app.command("revoke")
def keys_revoke(key: str, yes: YesOpt = False, cluster: ClusterOpt = None) -> None:
    """Revoke a key: clients using it are disconnected."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    existing = _find_key(api, found["id"], key)
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("Refusing to revoke without --yes (not a terminal).", exit_code=2)
        typer.confirm(f"Revoke key {existing['name']} ({existing['username']})?", abort=True)
    api.delete(f"clusters/{found['id']}/keys/{existing['id']}/")
    out.print(f"Key {existing['name']} revoked.")


@keys_app.command("store")
def keys_store(username: str, cluster: ClusterOpt = None) -> None:
    """Remember an existing key's secret (prompted, or from standard input) for produce/consume."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    secret = (
        typer.prompt("Secret", hide_input=True) if sys.stdin.isatty() else sys.stdin.readline()
    ).strip()
    if not secret:
        raise CliError("No secret given.", exit_code=EXIT_USAGE)
    path = config.store_key(chosen.name, cluster_id=found["id"], username=username, secret=secret)
    out.print(f"Key {username} stored for cluster {found['name']} in {path} (owner-only).")


POLICY_COLUMNS = [
    ("Operation", "operation"),
    ("Resource", "resource_type"),
    ("Name", "short_name"),
    ("Pattern", "pattern_type"),
    ("Permission", "permission"),
]


@policy_app.command("get")
def policy_get(key: str, cluster: ClusterOpt = None, output: OutputOpt = Format.table) -> None:
    """A key's policy document and the ACLs it compiles to."""
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    existing = _find_key(api, found["id"], key)
    policy = api.get(f"clusters/{found['id']}/keys/{existing['id']}/policy/")
    _show_policy(policy, output)


@policy_app.command("set")
def policy_set(
    key: str,
    file: Annotated[Path, typer.Option("--file", "-f", help="Policy JSON ('-' for stdin).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compile only.")] = False,
    cluster: ClusterOpt = None,
    output: OutputOpt = Format.table,
) -> None:
    """Replace a key's policy with a JSON document; --dry-run shows the compiled ACLs only."""
    import json

    text = sys.stdin.read() if str(file) == "-" else _read(file)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{file} is not valid JSON: {exc}", exit_code=EXIT_USAGE) from exc
    api, chosen = _api()
    found = _resolve_cluster(api, chosen, cluster)
    existing = _find_key(api, found["id"], key)
    policy = api.put(
        f"clusters/{found['id']}/keys/{existing['id']}/policy/",
        {"policy_template": "custom", "policy_document": document},
        dry_run="1" if dry_run else None,
    )
    _show_policy(policy, output)
    if output is Format.table:
        out.print("Dry run: nothing changed." if dry_run else "Policy applied.")


def _show_policy(policy: dict[str, Any], output: Format) -> None:
    if output is not Format.table:
        emit(policy, output)
        return
    out.print(f"Template: {policy['policy_template']}")
    emit(policy["bindings"], output, title="Compiled ACLs", columns=POLICY_COLUMNS)
    for warning in policy.get("warnings") or []:
        err.print(f"warning: {warning}")


# --- produce and consume -------------------------------------------------------------------


def _kafka_target(
    api: Api, chosen: config.Profile, cluster_ref: str | None, key_username: str | None
) -> tuple[KafkaTarget, dict[str, Any]]:
    found = _resolve_cluster(api, chosen, cluster_ref)
    if found["state"] != "ACTIVE" or not found.get("bootstrap_servers"):
        raise CliError(
            f"Cluster {found['name']} is {found['state']}, not ACTIVE.", exit_code=EXIT_UNAVAILABLE
        )
    stored = chosen.keys.get(str(found["id"]))
    if stored is None or (key_username and stored["username"] != key_username):
        raise CliError(
            f"No key stored for cluster {found['name']}"
            + (f" with username {key_username}" if key_username else "")
            + ". Create one (skiff keys create NAME) or store one (skiff keys store USERNAME).",
            exit_code=EXIT_USAGE,
        )
    ca_dir = config.config_dir() / "ca"
    ca_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_path = ca_dir / f"{found['id']}.pem"
    _write_private(ca_path, api.download(f"clusters/{found['id']}/ca.pem"), mode=0o644)
    return (
        KafkaTarget(
            bootstrap_servers=found["bootstrap_servers"],
            prefix=found["prefix"],
            username=stored["username"],
            secret=stored["secret"],
            ca_path=str(ca_path),
        ),
        found,
    )


KeyOpt = Annotated[str | None, typer.Option("--key", help="Username of the stored key to use.")]


@app.command()
def produce(
    topic: str,
    key_separator: Annotated[
        str | None,
        typer.Option("--key-separator", help="Split each line into KEY<sep>VALUE."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for acknowledgements.")] = 30,
    key: KeyOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    """Produce one message per line of standard input (idempotent, acks=all)."""
    api, chosen = _api()
    target, found = _kafka_target(api, chosen, cluster, key)
    count = produce_lines(
        target, topic=topic, lines=sys.stdin, key_separator=key_separator, timeout=timeout
    )
    err.print(f"{count} message(s) produced to {topic} in {found['name']}.")


@app.command("consume")
def consume_command(
    topic: str,
    from_beginning: Annotated[bool, typer.Option("--from-beginning")] = False,
    group: Annotated[
        str | None, typer.Option(help="Join this consumer group and commit offsets.")
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after N messages.")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Stop after this many seconds without a message.")
    ] = 10,
    print_key: Annotated[bool, typer.Option("--print-key", help="Print KEY<TAB>VALUE.")] = False,
    key: KeyOpt = None,
    cluster: ClusterOpt = None,
    output: Annotated[
        Format, typer.Option("--output", "-o", help="table prints values; json/yaml records.")
    ] = Format.table,
) -> None:
    """Print messages of a topic as they arrive (values, one per line)."""
    api, chosen = _api()
    target, _ = _kafka_target(api, chosen, cluster, key)
    records = consume(
        target,
        topic=topic,
        group=group,
        from_beginning=from_beginning,
        max_messages=max_messages,
        idle_timeout=timeout,
    )
    if output is Format.table:
        for record in records:
            line = f"{record.key}\t{record.value}" if print_key else f"{record.value}"
            print(line, flush=True)
        return
    emit([record.as_dict() for record in records], output)


# --- money ---------------------------------------------------------------------------------


@app.command()
def usage(
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month).")] = None,
    output: OutputOpt = Format.table,
) -> None:
    """Month-to-date cost per cluster and meter, and the forecast."""
    api, _ = _api()
    data = api.get("usage/", month=month)
    if output is not Format.table:
        emit(data, output)
        return
    scalars = {k: v for k, v in data.items() if not isinstance(v, list | dict)}
    emit(scalars, output, title="Usage")
    for name, value in data.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            emit(value, output, title=name.replace("_", " ").capitalize())


@invoices_app.command("list")
def invoices_list(
    month: Annotated[str | None, typer.Option(help="YYYY-MM.")] = None,
    output: OutputOpt = Format.table,
) -> None:
    """The team's invoices, newest first."""
    api, _ = _api()
    rows = api.all("invoices/", month=month)
    emit(
        rows,
        output,
        columns=[
            ("ID", "id"),
            ("Number", "number"),
            ("Period", "period"),
            ("Status", "status"),
            ("Total", "total"),
            ("Currency", "currency"),
        ],
    )


@invoices_app.command("download")
def invoices_download(
    invoice_id: int,
    pdf: Annotated[bool, typer.Option("--pdf")] = False,
    csv: Annotated[bool, typer.Option("--csv")] = False,
    out_file: Annotated[Path | None, typer.Option("--out", "-O", help="File to write.")] = None,
) -> None:
    """Download an invoice as PDF or CSV."""
    if pdf == csv:
        raise CliError("Choose one of --pdf or --csv.", exit_code=EXIT_USAGE)
    kind = "pdf" if pdf else "csv"
    api, _ = _api()
    data = api.download(f"invoices/{invoice_id}/{kind}")
    target = out_file or Path(f"invoice-{invoice_id}.{kind}")
    _write_private(target, data, mode=0o600)
    out.print(f"Invoice {invoice_id} written to {target} ({len(data):,} bytes).")


@finance_app.command("export")
def finance_export(
    month: str,
    out_file: Annotated[Path | None, typer.Option("--out", "-O", help="File to write.")] = None,
) -> None:
    """Staff: every finalized, paid and void invoice line of MONTH (YYYY-MM), as CSV."""
    api, _ = _api()
    data = api.download("exports/invoices.csv", month=month)
    if out_file is None:
        sys.stdout.write(data.decode())
        return
    _write_private(out_file, data, mode=0o600)
    out.print(f"Finance export of {month} written to {out_file}.")


# --- helpers -------------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror}", exit_code=EXIT_USAGE) from exc


def _write_private(path: Path, data: bytes, *, mode: int) -> None:
    """Write atomically with the given mode (0600 for anything with money or secrets)."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise CliError(f"Cannot write {path}: {exc.strerror}") from exc


def main() -> None:
    """Entry point: run the app, turning every CliError into one line and its exit code."""
    try:
        app(standalone_mode=False)
    except CliError as exc:
        err.print(f"error: {exc.message}", highlight=False, markup=False)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("Aborted.")
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # Typer's own Click: usage errors and the like
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
    except KeyboardInterrupt:
        sys.exit(130)
