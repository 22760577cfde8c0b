"""Forms of the clusters pages. They shape input; the rules live in the services.

The wizard's step forms (rules in clusters.services.clusters), then the forms of the Topics,
Consumer groups and Access pages.
"""

import json
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator

from clusters.models import AccessKey, Cluster, PolicyTemplate
from clusters.selectors import access_key_list
from clusters.services import clusters as cluster_services
from clusters.services.messages import parse_timestamp
from console.errors import ValidationFailed
from fleet.topic_rules import TOPIC_CONFIGS


class ClusterTypeForm(forms.Form):
    cluster_type = forms.ChoiceField(
        label="Cluster type",
        choices=[("serverless", "Serverless"), ("provisioned", "Provisioned")],
        widget=forms.RadioSelect,
        initial="serverless",
    )

    def clean_cluster_type(self) -> str:
        value = self.cleaned_data["cluster_type"]
        if value != "serverless":
            raise ValidationError("Provisioned clusters are not available yet: choose Serverless.")
        return value


def parse_tags(text: str) -> dict[str, str]:
    """`key=value` per line → dict; a line without '=' is a tag with an empty value."""
    tags: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not key:
            raise ValidationError(f"Line {number}: a tag needs a key before '='.")
        if key in tags:
            raise ValidationError(f"Line {number}: the tag '{key}' is given twice.")
        tags[key] = value.strip()
    return cluster_services.validate_tags(tags)


def format_tags(tags: dict[str, str]) -> str:
    return "\n".join(f"{key}={value}" for key, value in tags.items())


class ClusterNameForm(forms.Form):
    name = forms.CharField(
        label="Cluster name",
        max_length=200,
        help_text="1–64 letters, digits and '-'. Unique in your team; part of every topic's wire "
        "name.",
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "env=prod\nowner=payments"}),
        help_text="Optional, up to 50, one key=value per line.",
    )

    def __init__(self, *args, team, **kwargs):
        self.team = team
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        try:
            return cluster_services.validate_cluster_name(self.team, self.cleaned_data["name"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["name"]) from exc

    def clean_tags(self) -> dict[str, str]:
        try:
            return parse_tags(self.cleaned_data.get("tags") or "")
        except ValidationError as exc:
            messages = exc.message_dict.get("tags") if hasattr(exc, "error_dict") else exc.messages
            raise ValidationError(messages) from exc


class ClusterSettingsForm(forms.Form):
    policy_template = forms.ChoiceField(
        label="Access policy of the first key",
        choices=PolicyTemplate.choices,
        widget=forms.RadioSelect,
        initial=PolicyTemplate.PRODUCE_CONSUME,
    )
    policy_document = forms.CharField(
        label="Custom policy (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    allowed_client_ips = forms.CharField(
        label="Allowed client IP addresses",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "203.0.113.10"}),
        help_text="Optional. Exact addresses, one per line; empty allows any address.",
    )

    def clean_allowed_client_ips(self) -> list[str]:
        try:
            return cluster_services.validate_client_ips(self.cleaned_data["allowed_client_ips"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["allowed_client_ips"]) from exc

    def clean(self):
        cleaned = super().clean()
        template = cleaned.get("policy_template")
        if template is None:
            return cleaned
        document = None
        if template == PolicyTemplate.CUSTOM:
            text = (cleaned.get("policy_document") or "").strip()
            try:
                document = json.loads(text) if text else None
            except json.JSONDecodeError as exc:
                self.add_error("policy_document", f"Not valid JSON: {exc.msg} (line {exc.lineno}).")
                return cleaned
        try:
            cleaned["policy_template"], cleaned["policy_document"] = (
                cluster_services.validate_policy(template, document)
            )
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


class ClusterDeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Type the cluster name to confirm")

    def __init__(self, *args, cluster, **kwargs):
        self.cluster = cluster
        super().__init__(*args, **kwargs)

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.cluster.name:
            raise ValidationError(f"Type '{self.cluster.name}' exactly to delete this cluster.")
        return value


# --- forms of the Topics, Consumer groups and Access pages ---------------------------------------
#
# They take a POST apart into the arguments of one service call and nothing more: the rules, and
# the messages users see, live in the services. `cleaned()` raises a form's own errors as one
# ValidationError, so a view reports them exactly like a service's.


class RawText(forms.CharField):
    """Optional text passed on as typed: the service judges it (no stripping unless asked)."""

    def __init__(self, *, strip: bool = False, **kwargs):
        super().__init__(required=False, strip=strip, **kwargs)
        # Null characters are the service's (or the broker's) business too.
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


class ServiceForm(forms.Form):
    """A POST shaped for one service call. `absent` gives the value of a field left out of it."""

    absent: ClassVar[dict[str, str]] = {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, value in self.absent.items():
            if name not in self.data:
                cleaned[name] = value
        return cleaned

    def cleaned(self) -> dict[str, Any]:
        """The cleaned values; ValidationFailed (field → messages) when the form is invalid."""
        if not self.is_valid():
            raise ValidationFailed(self.errors.as_data())
        return self.cleaned_data

    def values(self) -> dict[str, str]:
        """What was posted, to show the form again after an error."""
        return {name: self.data.get(name, self.absent.get(name, "")) for name in self.fields}


class TopicCreateForm(ServiceForm):
    """Name, partitions and any settable config; an empty config means the platform default."""

    name = RawText()
    partitions = RawText()
    retention_preset = RawText()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for spec in TOPIC_CONFIGS.values():
            self.fields[spec.name] = RawText(strip=True)

    def configs(self) -> dict[str, str]:
        """The configs typed in; a retention preset counts unless retention.ms was typed."""
        configs = {
            spec.name: self.cleaned_data[spec.name]
            for spec in TOPIC_CONFIGS.values()
            if self.cleaned_data[spec.name]
        }
        preset = self.cleaned_data["retention_preset"]
        if preset and preset != "custom" and not configs.get("retention.ms"):
            configs["retention.ms"] = preset
        return configs

    def values(self) -> dict[str, str]:
        values = super().values()
        for spec in TOPIC_CONFIGS.values():
            values[spec.name] = values[spec.name].strip()
        return values


class TopicConfigsForm(ServiceForm):
    """The edit form: each config posted with its shown value (`was:`) and a reset box."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for spec in self.editable_specs():
            self.fields[spec.name] = RawText(strip=True)
            self.fields[f"was:{spec.name}"] = RawText(strip=True)
            self.fields[f"reset:{spec.name}"] = RawText()

    def editable_specs(self):
        return [spec for spec in TOPIC_CONFIGS.values() if not spec.create_only]

    def posted(self):
        """The editable configs this POST carries (a form may show only some of them)."""
        return [spec for spec in self.editable_specs() if spec.name in self.data]

    def changes(self) -> dict[str, str | None]:
        """Config → new value, or None to reset it to the default; unchanged ones left out."""
        changes: dict[str, str | None] = {}
        for spec in self.posted():
            value = self.cleaned_data[spec.name]
            if self.cleaned_data[f"reset:{spec.name}"]:
                changes[spec.name] = None
            elif value != self.cleaned_data[f"was:{spec.name}"]:
                changes[spec.name] = value
        return changes

    def values(self) -> dict[str, str]:
        return {spec.name: self.data.get(spec.name, "").strip() for spec in self.posted()}


class TopicPartitionsForm(ServiceForm):
    partitions = RawText()


class TopicDeleteForm(ServiceForm):
    confirm_name = RawText()

    def __init__(self, *args, topic: str, **kwargs):
        self.topic = topic
        super().__init__(*args, **kwargs)

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.topic:
            raise ValidationError(f"Type '{self.topic}' exactly to delete this topic.")
        return value


class MessageProduceForm(ServiceForm):
    """One record from the message browser; headers are `name=value`, one per line."""

    key = RawText()
    value = RawText()
    headers = RawText()
    partition = RawText()

    def clean_headers(self) -> list[tuple[str, str]]:
        headers = []
        for number, line in enumerate(self.cleaned_data["headers"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ValidationError(f"Line {number}: write headers as name=value.")
            headers.append((key.strip(), value))
        return headers


class ConsumerGroupResetForm(ServiceForm):
    """Where to move a group's offsets: earliest, latest, a timestamp or an offset."""

    to = RawText()
    topic = RawText()
    timestamp = RawText()
    offset = RawText()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            cleaned["timestamp"] = parse_timestamp(cleaned.get("timestamp"))  # ms, or None
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


class AccessKeyCreateForm(ServiceForm):
    name = RawText()
    description = RawText()
    policy_template = RawText()


class AllowedIpsForm(ServiceForm):
    ips = RawText()


class KeyPolicyForm(ServiceForm):
    """The policy editor: a template, or a custom JSON document (only read for `custom`)."""

    policy_template = RawText()
    policy_document = RawText()
    absent: ClassVar[dict[str, str]] = {"policy_template": PolicyTemplate.CUSTOM}

    def document(self) -> str | None:
        if self.cleaned_data["policy_template"] == PolicyTemplate.CUSTOM:
            return self.cleaned_data["policy_document"]
        return None


class ManualAclForm(ServiceForm):
    """One manual binding, or (with `kind`) the bindings of a producer/consumer/Streams app."""

    key = forms.ModelChoiceField(
        queryset=AccessKey.objects.none(),
        required=False,
        error_messages={"invalid_choice": "Choose one of this cluster's active keys."},
    )
    kind = RawText()
    topic = RawText()
    group = RawText()
    resource_type = RawText()
    name = RawText()
    pattern_type = RawText()
    operation = RawText()
    permission = RawText()
    absent: ClassVar[dict[str, str]] = {"pattern_type": "LITERAL", "permission": "ALLOW"}

    def __init__(self, *args, cluster: Cluster, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].queryset = access_key_list(cluster=cluster, active_only=True)

    def clean_key(self) -> AccessKey:
        if self.cleaned_data["key"] is None:
            raise ValidationError("Choose one of this cluster's active keys.")
        return self.cleaned_data["key"]
