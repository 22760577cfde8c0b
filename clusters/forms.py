"""Wizard step forms. They shape input; the rules live in clusters.services.clusters."""

import json

from django import forms
from django.core.exceptions import ValidationError

from clusters.models import PolicyTemplate
from clusters.services import clusters as cluster_services


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
