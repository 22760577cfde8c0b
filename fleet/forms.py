"""Forms of the fleet pages (staff only)."""

from django import forms

from fleet.models import Cell, FleetOperation


class AdmissionForm(forms.Form):
    admission = forms.ChoiceField(label="Admission of new clusters", choices=Cell.Admission.choices)


class OperationForm(forms.Form):
    kind = forms.ChoiceField(label="Operation", choices=FleetOperation.Kind.choices)
    mode = forms.ChoiceField(
        label="Rebalance mode",
        choices=[("", "—"), *FleetOperation.Mode.choices],
        required=False,
        help_text="For a rebalance: full, add-brokers (onto the brokers below) or "
        "remove-brokers (off the brokers below).",
    )
    broker_ids = forms.CharField(
        label="Broker ids",
        required=False,
        help_text="Comma-separated node ids: the broker to remove, or a rebalance's targets.",
    )

    def clean_broker_ids(self) -> list[int]:
        text = self.cleaned_data.get("broker_ids") or ""
        ids = []
        for part in text.replace(" ", ",").split(","):
            if not part:
                continue
            if not part.isdigit():
                raise forms.ValidationError(f"'{part}' is not a broker id (a whole number).")
            ids.append(int(part))
        return ids


class RegisterCellForm(forms.Form):
    name = forms.SlugField(
        label="Cell name", max_length=50, help_text="Lowercase letters, digits and '-'."
    )
    bootstrap_servers = forms.CharField(
        label="Bootstrap servers",
        max_length=500,
        help_text="host:port of the SASL_SSL listener with SCRAM-SHA-512, comma-separated.",
    )
    client_bootstrap_servers = forms.CharField(
        label="Bootstrap servers for tenants' clients",
        max_length=500,
        required=False,
        help_text="Only when clients reach the brokers at other addresses than the platform.",
    )
    username = forms.CharField(label="Admin SCRAM username", max_length=200)
    password = forms.CharField(
        label="Admin SCRAM password", max_length=500, widget=forms.PasswordInput
    )
    ca_pem = forms.CharField(
        label="CA certificate (PEM)",
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "-----BEGIN CERTIFICATE-----"}),
    )
    metrics_url = forms.CharField(
        label="Metrics URL",
        max_length=2000,
        help_text="Per broker: a template with {host} or {node_id} "
        "(http://kafka-{node_id}.kafka-brokers:9404/metrics), node_id=URL pairs, or one URL "
        "for a one-broker cell.",
    )
    metrics_username = forms.CharField(
        label="Metrics username", max_length=200, required=False, help_text="If basic auth."
    )
    metrics_password = forms.CharField(
        label="Metrics password", max_length=500, required=False, widget=forms.PasswordInput
    )
    admission = forms.ChoiceField(
        label="Admission of new clusters", choices=Cell.Admission.choices, initial="open"
    )
