"""Access keys of an ACTIVE cluster: create, rotate, revoke, attach a policy, allow-list.

Every service validates first (a bad input raises ValidationError and changes nothing), then
records the change and its audit event in one transaction while it applies the change to the
cell; a broker failure rolls the database back and undoes what reached the cell.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clusters.models import AccessKey, Cluster, PolicyTemplate
from clusters.services.access.policy import (
    CompiledPolicy,
    PolicyInvalid,
    analyze_policy,
    template_policy,
)
from clusters.services.access.reconcile import (
    key_desired_acls,
    key_desired_quotas,
    key_policy_document,
    manual_acl_bindings,
    reconcile_cluster_keys,
    reconcile_key,
    reconcile_key_acls,
)
from clusters.services.cells import cluster_cell
from clusters.services.key_identity import access_key_username, new_key_secret, validate_client_ips
from clusters.services.sealing import seal, unseal
from clusters.services.snippets import ClientSetup, Snippet, client_setup
from console.audit import audit_record
from console.errors import ValidationFailed
from fleet.kafka.connection import KafkaConnection
from fleet.kafka.errors import KafkaAuthenticationFailed, KafkaGatewayError, KafkaUnavailable
from fleet.kafka.platform import PlatformSuperuser, platform_superuser
from fleet.kafka.quotas import QUOTA_KEYS

logger = logging.getLogger(__name__)

KEY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_KEYS_PER_CLUSTER = 50
# How long a credential change may take to reach every broker before the call gives up.
CREDENTIAL_PROPAGATION_TIMEOUT = 15.0


@dataclass(frozen=True)
class KeyWithSecret:
    key: AccessKey
    secret: str
    setup: ClientSetup

    @property
    def snippets(self) -> list[Snippet]:
        return self.setup.snippets


# --- validation -------------------------------------------------------------------------------


def _require_active(cluster: Cluster) -> None:
    if cluster.state != Cluster.State.ACTIVE or cluster.cell_id is None:
        raise ValidationFailed(
            f"Access keys can be changed only while the cluster is ACTIVE (it is {cluster.state})."
        )


def _require_live_key(key: AccessKey) -> None:
    if key.revoked_at is not None:
        raise ValidationFailed("This access key is revoked.")


def validate_key_name(cluster: Cluster, name: str) -> str:
    name = (name or "").strip()
    if not KEY_NAME_RE.match(name):
        raise ValidationFailed(
            {
                "name": "Key name may use letters, digits, '-' and '_' (1–64 chars, starting with "
                "a letter or digit)."
            }
        )
    if cluster.access_keys.filter(name=name, revoked_at__isnull=True).exists():
        raise ValidationFailed({"name": f"This cluster already has a key named '{name}'."})
    return name


def resolve_policy(cluster: Cluster, template: str, document) -> tuple[str, dict | None, dict]:
    """(template, stored document, effective document) after checking the template name."""
    if template not in PolicyTemplate.values:
        choices = ", ".join(PolicyTemplate.values)
        raise ValidationFailed(
            {"policy_template": f"Unknown policy template '{template}'. Choose one of: {choices}."}
        )
    if template == PolicyTemplate.CUSTOM:
        if document in (None, "", {}):
            raise ValidationFailed({"policy_document": "A custom policy needs a JSON document."})
        if isinstance(document, str):
            import json

            try:
                document = json.loads(document)
            except ValueError as exc:
                raise ValidationFailed(
                    {"policy_document": f"The policy is not valid JSON: {exc}."}
                ) from exc
        return template, document, document
    return template, None, template_policy(template, cluster)


def preview_policy(
    cluster: Cluster, *, username: str, template: str, document=None
) -> CompiledPolicy:
    """Validate and compile without saving anything (the editor's preview, ?dry_run=1)."""
    _template, _stored, effective = resolve_policy(cluster, template, document)
    return analyze_policy(
        effective, cluster=cluster, username=username, hosts=cluster.allowed_client_ips
    )


# --- credentials on the cell ------------------------------------------------------------------


def wait_until_every_broker_accepts(
    cluster: Cluster, username: str, secret: str, *, timeout: float = CREDENTIAL_PROPAGATION_TIMEOUT
) -> None:
    """Return once each broker of the cell authenticates ``username`` with ``secret``.

    SCRAM changes reach brokers through the KRaft metadata log a few ms after the controller
    acknowledged them; once every broker accepts the new secret, none accepts the old one.
    """
    cell = cluster_cell(cluster)
    addresses = [a.strip() for a in cell.bootstrap_servers.split(",") if a.strip()]
    deadline = time.monotonic() + timeout
    for address in addresses:
        while True:
            conn = KafkaConnection(
                bootstrap=address,
                username=username,
                password=secret,
                ca_path=cell.ca_path,
                timeout=5.0,
            )
            try:
                PlatformSuperuser.authenticate_as(conn, address)
                break
            except (KafkaAuthenticationFailed, KafkaUnavailable):
                if time.monotonic() >= deadline:
                    raise KafkaUnavailable(
                        f"Broker {address} did not pick up the new credentials within "
                        f"{timeout:g}s; try again."
                    ) from None
                time.sleep(0.05)


def _remove_key_from_cell(key: AccessKey, superuser: PlatformSuperuser) -> None:
    """Every ACL of its principal and its quotas gone; its credential revoked.

    Revoked, not deleted: see gateway.revoke_scram_user (a Kafka 4.3.1 restart bug).
    """
    bindings = superuser.describe_acls(key.principal)
    if bindings:
        superuser.delete_acls(bindings)
    superuser.alter_user_quotas(key.username, dict.fromkeys(QUOTA_KEYS))
    superuser.revoke_scram_user(key.username, missing_ok=True)


# --- services ---------------------------------------------------------------------------------


def access_key_create(
    *,
    cluster: Cluster,
    name: str,
    description: str = "",
    policy_template: str = PolicyTemplate.PRODUCE_CONSUME,
    policy_document=None,
) -> KeyWithSecret:
    """A new SCRAM key on the cell with its policy's ACLs and quotas; the secret, once."""
    _require_active(cluster)
    errors: dict[str, list[str]] = {}
    try:
        name = validate_key_name(cluster, name)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if len(description or "") > 200:
        errors["description"] = ["At most 200 characters."]
    try:
        template, stored, effective = resolve_policy(cluster, policy_template, policy_document)
        analyze_policy(effective, cluster=cluster, username="preview", hosts=())
    except PolicyInvalid as exc:
        errors.update(exc.message_dict)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationFailed(errors)
    if cluster.access_keys.filter(revoked_at__isnull=True).count() >= MAX_KEYS_PER_CLUSTER:
        raise ValidationFailed(
            {"name": f"A cluster can have at most {MAX_KEYS_PER_CLUSTER} active keys."}
        )
    secret = new_key_secret()
    superuser = platform_superuser(cluster_cell(cluster))
    with transaction.atomic():
        try:
            with transaction.atomic():
                key = AccessKey.objects.create(
                    cluster=cluster,
                    name=name,
                    description=description or "",
                    username=access_key_username(cluster, name),
                    policy_template=template,
                    policy_document=stored,
                )
        except IntegrityError as exc:
            raise ValidationFailed(
                {"name": f"This cluster already has a key named '{name}'."}
            ) from exc
        audit_record(
            team=cluster.team,
            action="key.create",
            target=key,
            after={"name": key.name, "username": key.username, "policy_template": template},
        )
        try:
            superuser.create_scram_user(key.username, secret)
            reconcile_key(key, superuser=superuser)
            wait_until_every_broker_accepts(cluster, key.username, secret)
        except KafkaGatewayError:
            _undo(lambda: _remove_key_from_cell(key, superuser))
            raise
    return _with_secret(key, secret)


def access_key_create_platform_managed(
    *, cluster: Cluster, name: str, policy_document: dict
) -> tuple[AccessKey, str]:
    """A key the platform makes for its own use in the cluster (the Connect worker's).

    Not listed to tenants and not editable by them (`clusters.selectors` leaves it out). Its
    secret stays sealed in the row, since the platform needs it again (a worker restart);
    its ALLOW bindings are for any host (it connects from the platform, not the tenant's
    allowed addresses). Returns the key and its secret.
    """
    _require_active(cluster)
    analyze_policy(policy_document, cluster=cluster, username="preview", hosts=())
    secret = new_key_secret()
    superuser = platform_superuser(cluster_cell(cluster))
    with transaction.atomic():
        key = AccessKey.objects.create(
            cluster=cluster,
            name=name,
            description="Platform-managed: the cluster's Kafka Connect workers.",
            username=access_key_username(cluster, name),
            policy_template=PolicyTemplate.CUSTOM,
            policy_document=policy_document,
            sealed_secret=seal(secret),
            platform_managed=True,
        )
        # Not audited on its own: the platform makes it for a tenant's action, whose event
        # (connector.create) it belongs to.
        try:
            superuser.create_scram_user(key.username, secret)
            reconcile_key(key, superuser=superuser)
            wait_until_every_broker_accepts(cluster, key.username, secret)
        except KafkaGatewayError:
            _undo(lambda: _remove_key_from_cell(key, superuser))
            raise
    return key, secret


def platform_key_secret(key: AccessKey) -> str:
    """The secret of a platform-managed key (kept sealed for the platform's own use)."""
    secret = unseal(key.sealed_secret) if key.platform_managed else None
    if secret is None:
        raise ValidationFailed("The platform key's secret cannot be opened (SECRET_KEY changed?).")
    return secret


def access_key_rotate(*, key: AccessKey) -> KeyWithSecret:
    """A new secret; the old one is refused by every broker when this returns."""
    cluster = key.cluster
    _require_active(cluster)
    _require_live_key(key)
    secret = new_key_secret()
    superuser = platform_superuser(cluster_cell(cluster))
    with transaction.atomic():
        locked = AccessKey.objects.select_for_update().get(pk=key.pk)
        before = {"rotated_at": locked.rotated_at.isoformat() if locked.rotated_at else None}
        locked.rotated_at = timezone.now()
        locked.save(update_fields=["rotated_at"])
        audit_record(
            team=cluster.team,
            action="key.rotate",
            target=locked,
            before=before,
            after={"rotated_at": locked.rotated_at.isoformat()},
        )
        superuser.create_scram_user(locked.username, secret)  # replaces the credential
    try:
        wait_until_every_broker_accepts(cluster, locked.username, secret)
    except KafkaUnavailable:
        # The new secret is set on the controller: it reaches the lagging broker shortly. The
        # user must still get it, or the key would be lost.
        logger.warning("rotation of %s: a broker is slow to apply the secret", key.username)
    key.rotated_at = locked.rotated_at
    return _with_secret(key, secret)


def access_key_revoke(*, key: AccessKey, audit: bool = True) -> AccessKey:
    """SCRAM user deleted, its ACLs and quotas removed; the key stays listed as revoked.

    The credential is first replaced by a throw-away secret that every broker must accept, so
    the old secret is refused everywhere when this returns (deletion alone reaches brokers a
    moment later). Connections already open lose every permission with the ACLs.
    """
    cluster = key.cluster
    _require_live_key(key)
    if cluster.cell_id is None:
        raise ValidationFailed("This cluster has no cell yet.")
    superuser = platform_superuser(cluster_cell(cluster))
    with transaction.atomic():
        locked = AccessKey.objects.select_for_update().get(pk=key.pk)
        locked.revoked_at = timezone.now()
        locked.sealed_secret = ""
        locked.save(update_fields=["revoked_at", "sealed_secret"])
        manual = list(locked.manual_acls.values_list("id", flat=True))
        locked.manual_acls.all().delete()
        if audit:  # a platform-managed key goes with the tenant action that ends its use
            audit_record(
                team=cluster.team,
                action="key.revoke",
                target=locked,
                before={"revoked_at": None, "manual_acls": len(manual)},
                after={"revoked_at": locked.revoked_at.isoformat()},
            )
        if superuser.existing_scram_users([locked.username]):
            throwaway = secrets.token_urlsafe(32)
            superuser.create_scram_user(locked.username, throwaway)
            wait_until_every_broker_accepts(cluster, locked.username, throwaway)
        _remove_key_from_cell(locked, superuser)
    key.revoked_at = locked.revoked_at
    return key


def access_key_set_policy(
    *,
    key: AccessKey,
    policy_template: str,
    policy_document=None,
    dry_run: bool = False,
) -> CompiledPolicy:
    """Attach a template or custom policy; the cell's ACLs follow before this returns.

    ``dry_run`` validates and compiles only. An invalid policy raises PolicyInvalid (a
    ValidationError naming the statements) and changes nothing.
    """
    cluster = key.cluster
    _require_live_key(key)
    template, stored, effective = resolve_policy(cluster, policy_template, policy_document)
    compiled = analyze_policy(
        effective, cluster=cluster, username=key.username, hosts=cluster.allowed_client_ips
    )
    if dry_run:
        return compiled
    _require_active(cluster)
    superuser = platform_superuser(cluster_cell(cluster))
    with transaction.atomic():
        locked = (
            AccessKey.objects.select_for_update(of=("self",))
            .select_related("cluster__team")
            .get(pk=key.pk)
        )
        before = {
            "policy_template": locked.policy_template,
            "policy_document": key_policy_document(locked),
        }
        locked.policy_template = template
        locked.policy_document = stored
        locked.save(update_fields=["policy_template", "policy_document"])
        audit_record(
            team=cluster.team,
            action="key.policy",
            target=locked,
            before=before,
            after={"policy_template": template, "policy_document": effective},
        )
        try:
            reconcile_key_acls(locked, superuser=superuser)
        except KafkaGatewayError:
            _undo(lambda: reconcile_key_acls(AccessKey.objects.get(pk=key.pk), superuser=superuser))
            raise
    key.policy_template, key.policy_document = template, stored
    return compiled


def cluster_set_allowed_client_ips(*, cluster: Cluster, ips) -> Cluster:
    """Change the network allow-list; every key's ALLOW bindings move to the new hosts."""
    _require_active(cluster)
    clean = validate_client_ips(ips)
    superuser = platform_superuser(cluster_cell(cluster))
    with transaction.atomic():
        locked = (
            Cluster.objects.select_for_update(of=("self",))
            .select_related("team", "cell")
            .get(pk=cluster.pk)
        )
        before = {"allowed_client_ips": locked.allowed_client_ips}
        if before["allowed_client_ips"] == clean:
            return locked
        locked.allowed_client_ips = clean
        locked.save(update_fields=["allowed_client_ips", "updated_at"])
        audit_record(
            team=locked.team,
            action="cluster.allowed_client_ips",
            target=locked,
            before=before,
            after={"allowed_client_ips": clean},
        )
        try:
            reconcile_cluster_keys(locked, superuser=superuser)
        except KafkaGatewayError:
            _undo(
                lambda: reconcile_cluster_keys(
                    Cluster.objects.get(pk=cluster.pk), superuser=superuser
                )
            )
            raise
    cluster.allowed_client_ips = clean
    return locked


def _with_secret(key: AccessKey, secret: str) -> KeyWithSecret:
    return KeyWithSecret(key, secret, client_setup(key, secret=secret))


def _undo(action) -> None:
    """Best-effort compensation after a failure (the periodic reconciler finishes the job)."""
    try:
        action()
    except Exception:  # the original error is what the user must see
        logger.exception("compensation after a failed access change did not complete")


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaRow:
    name: str
    label: str
    expected: float | None
    current: float | None  # as read from the broker

    @property
    def in_sync(self) -> bool:
        return self.expected == self.current


QUOTA_LABELS = {
    "producer_byte_rate": "Producer byte rate (bytes/s per broker)",
    "consumer_byte_rate": "Consumer byte rate (bytes/s per broker)",
    "request_percentage": "Request time (% of one I/O thread per broker)",
    "controller_mutation_rate": "Partition mutations (per second)",
}


def key_quotas(key: AccessKey, *, superuser: PlatformSuperuser | None = None) -> list[QuotaRow]:
    """The key's quotas: what Skiff sets, and what the broker holds right now."""

    superuser = superuser or platform_superuser(cluster_cell(key.cluster))
    current = superuser.describe_user_quotas(key.username).get(key.username, {})
    expected = key_desired_quotas(key)
    return [
        QuotaRow(name, label, expected.get(name), current.get(name))
        for name, label in QUOTA_LABELS.items()
        if name in expected or name in current
    ]


__all__ = [
    "KeyWithSecret",
    "access_key_create",
    "access_key_create_platform_managed",
    "access_key_revoke",
    "access_key_rotate",
    "access_key_set_policy",
    "cluster_set_allowed_client_ips",
    "key_desired_acls",
    "key_quotas",
    "manual_acl_bindings",
    "platform_key_secret",
    "preview_policy",
]
