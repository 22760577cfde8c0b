"""A TOTP second factor for platform staff (django-otp's TOTP devices).

A staff user enrols one authenticator app: a pending (unconfirmed) device holds the secret the
enrolment page shows; the first right code confirms it and replaces any older one. Each sign-in
then needs a code (``StaffMFAMiddleware``) when ``SKIFF_REQUIRE_STAFF_MFA`` is on, or when the
user enrolled anyway. Wrong codes are throttled by django-otp: each one doubles the wait before
the next try (``OTP_TOTP_THROTTLE_FACTOR`` seconds, then twice, four times that…); a right code
resets it. A code is accepted once: django-otp remembers the last time step used.

The session side (marking the session verified) is the view's: ``django_otp.login``.
"""

from __future__ import annotations

from base64 import b32encode
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from console.audit import audit_record
from console.errors import ApplicationError, ValidationFailed
from console.models import User

PENDING_NAME = "pending"
DEVICE_NAME = "Authenticator app"


class TooManyCodes(ApplicationError):
    status = 429
    code = "mfa_throttled"


def mfa_confirmed_device(*, user: User) -> TOTPDevice | None:
    """The user's enrolled authenticator, if any."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def mfa_required_for(*, user: User) -> bool:
    """Whether this user's sessions must pass a second factor: staff, when the platform
    requires it or when they enrolled an authenticator anyway. Nobody else is ever asked."""
    if not (user.is_authenticated and user.is_staff):
        return False
    if settings.SKIFF_REQUIRE_STAFF_MFA:
        return True
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def mfa_session_verified(*, user: User, session) -> bool:
    """Whether this session passed the user's second factor: it names one of the user's
    confirmed devices (what django-otp's middleware checks for HTTP; WebSockets have no
    such middleware, so the socket handshake asks here)."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.user_id == user.pk and bool(device.confirmed)


def mfa_pending_device(*, user: User) -> TOTPDevice:
    """The enrolment in progress: the same secret until it is confirmed (a reload of the page
    must not change the QR code already scanned)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=PENDING_NAME).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, confirmed=False, name=PENDING_NAME)
    return device


def mfa_secret_text(*, device: TOTPDevice) -> str:
    """The secret as an authenticator app takes it typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _check_code(*, device: TOTPDevice, code: str) -> bool:
    """django-otp's check with its throttling; the caller holds the device's row lock, so
    parallel guesses are counted one after the other."""
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until: datetime | None = (info or {}).get("locked_until")
        wait = (
            max(1, int((locked_until - timezone.now()).total_seconds() + 0.999))
            if locked_until
            else 1
        )
        raise TooManyCodes(
            f"Too many wrong codes. Wait {wait} s, then enter the current code from your app."
        )
    return bool(device.verify_token(code.replace(" ", "")))


def mfa_enrol_confirm(*, user: User, code: str) -> TOTPDevice:
    """Confirm the pending authenticator with a code from it; older authenticators go."""
    # A wrong code must stay counted (throttling) and audited: the error is raised after commit.
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False, name=PENDING_NAME)
            .first()
        )
        if device is None:
            raise ValidationFailed("The set-up expired. Scan the new code on this page.")
        right = _check_code(device=device, code=code)
        if right:
            replaced = TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()[0]
            device.confirmed = True
            device.name = DEVICE_NAME
            device.save(update_fields=["confirmed", "name"])
            audit_record(team=None, action="mfa.enrol", target=user, after={"replaced": replaced})
        else:
            audit_record(team=None, action="mfa.enrol_failed", target=user)
    if not right:
        raise ValidationFailed(
            "That code is not right. Check the app's clock and enter the code it shows now."
        )
    return device


def mfa_verify(*, user: User, code: str) -> TOTPDevice:
    """Check a sign-in code against the user's authenticator."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("-id")
            .first()
        )
        if device is None:
            raise ValidationFailed("You have no authenticator yet. Set one up first.")
        right = _check_code(device=device, code=code)
        audit_record(
            team=None,
            action="mfa.verify" if right else "mfa.verify_failed",
            target=user,
            after=None if right else {"failures": device.throttling_failure_count},
        )
    if not right:
        raise ValidationFailed("That code is not right. Enter the code your app shows now.")
    return device
