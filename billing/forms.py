from django import forms
from django.core.exceptions import ValidationError

from billing.models import Meter
from billing.services.price_book import NOTE_MAX_LENGTH, utc_today


class PriceVersionForm(forms.Form):
    """A new version of a meter's price. The rules live in billing.services.price_book."""

    meter = forms.ChoiceField(label="Meter", choices=Meter.choices)
    # Text, not DecimalField: the service parses it and says exactly what is wrong.
    unit_price = forms.CharField(
        label="Unit price (USD)",
        max_length=32,
        help_text="Per billing unit of the meter, up to 6 decimal places; 0 makes it free.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    effective_from = forms.DateField(
        label="Effective from (UTC)",
        help_text="Today or a later day; the price applies from 00:00 UTC of that day on.",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the first day of the new price as YYYY-MM-DD."},
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        help_text="Why the price changes (shown in the price book).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_from"].widget.attrs["min"] = utc_today().isoformat()

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the fields it names (else on the form)."""
        if hasattr(error, "error_dict"):
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        else:
            self.add_error(None, error.messages)
