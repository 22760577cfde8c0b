from datetime import UTC, datetime, time

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from console.models import Role


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        "invalid_login": "Wrong email or password.",
        "inactive": "This account is inactive.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].lower()


ROLE_CHOICES = [(role.value, role.label) for role in Role]


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES, initial=Role.DEVELOPER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=ROLE_CHOICES)


class ApiTokenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        help_text="Optional. The token stops working at the start of this day (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.now().date():
            raise forms.ValidationError("Choose a day after today.")
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return datetime.combine(day, time.min, tzinfo=UTC) if day else None


class AcceptInvitationForm(forms.Form):
    """A new account for an invited email: a name and a password typed twice."""

    name = forms.CharField(label="Your name", max_length=150, required=False)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not entirely numeric, not a common password.",
    )
    password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class AuditFilterForm(forms.Form):
    """Filters of the audit page, its CSV export and the audit-events API."""

    actor = forms.CharField(label="Actor", required=False, max_length=255)
    action = forms.CharField(
        label="Action",
        required=False,
        max_length=64,
        help_text='Exact, or a prefix ending in "." (e.g. "member.").',
    )
    target = forms.CharField(label="Object", required=False, max_length=255)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned
