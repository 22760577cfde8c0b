import csv
import json
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView
from django_otp import login as otp_login

from console.access import (
    SESSION_TEAM_KEY,
    TeamViewMixin,
    get_team_object_or_404,
    membership_for,
)
from console.errors import ApplicationError, ValidationFailed
from console.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    AuditFilterForm,
    EmailAuthenticationForm,
    InvitationForm,
    MemberRoleForm,
)
from console.models import AuditEvent, Invitation, Membership, Role, User
from console.permissions import Action, role_allows
from console.selectors import (
    api_token_list,
    audit_action_names,
    audit_event_list,
    invitation_pending_list,
    member_list,
)
from console.services.invitations import (
    invitation_accept,
    invitation_accept_new_user,
    invitation_check_usable,
    invitation_create,
    invitation_from_link,
    invitation_revoke,
)
from console.services.members import member_remove, member_role_change, team_ownership_transfer
from console.services.mfa import (
    mfa_confirmed_device,
    mfa_enrol_confirm,
    mfa_pending_device,
    mfa_secret_text,
    mfa_verify,
)
from console.services.teams import api_token_create, api_token_revoke


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


@require_POST
@login_required
def team_switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's teams the current one for this session."""
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        team_id = None
    membership = membership_for(request.user, team_id)
    if membership is None or membership.team_id != team_id:
        messages.error(request, "You are not a member of that team.")
    else:
        request.session[SESSION_TEAM_KEY] = membership.team_id
        messages.success(request, f"Switched to team {membership.team.name}.")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = "/"
    return redirect(next_url)


@login_required
def no_team(request: HttpRequest) -> HttpResponse:
    if request.team_context is not None:
        return redirect("home")
    return render(request, "console/no_team.html")


# --- team admin: members, invitations, API tokens, audit log --------------------------------


def assignable_roles(context) -> list[tuple[str, str]]:
    """Roles the caller may give: every role for an owner, all but owner for an admin."""
    can_transfer = context.allows(Action.TEAM_TRANSFER)
    return [(r.value, r.label) for r in Role if can_transfer or r != Role.OWNER]


class TeamPageMixin(TeamViewMixin):
    """A page of the Team section: its tab, and which tabs the caller's role may open."""

    tab = "overview"

    def get_context_data(self, **kwargs):
        context = self.request.team_context
        return super().get_context_data(
            nav="team",
            tab=self.tab,
            can_view_members=context.allows(Action.MEMBER_VIEW),
            can_manage_members=context.allows(Action.MEMBER_MANAGE),
            can_manage_tokens=context.allows(Action.TOKEN_MANAGE),
            can_view_audit=context.allows(Action.AUDIT_VIEW),
            **kwargs,
        )


class TeamOverviewView(TeamPageMixin, TemplateView):
    """The team, the caller's role and what each role may do (the permission table, rendered)."""

    required_action = Action.CLUSTER_VIEW
    template_name = "console/team_overview.html"

    def get_context_data(self, **kwargs):
        actions = list(Action)
        matrix = [
            (role.label, [role_allows(role.value, action) for action in actions]) for role in Role
        ]
        return super().get_context_data(
            actions=actions, matrix=matrix, membership=self.membership, **kwargs
        )


class TeamMembersView(TeamPageMixin, TemplateView):
    required_action = Action.MEMBER_VIEW
    template_name = "console/team_members.html"
    tab = "members"

    def get_context_data(self, **kwargs):
        context = self.request.team_context
        return super().get_context_data(
            members=member_list(team=self.team),
            me=self.membership,
            can_transfer=context.allows(Action.TEAM_TRANSFER),
            role_choices=assignable_roles(context),
            **kwargs,
        )


class TeamMemberRoleView(TeamViewMixin, View):
    required_action = Action.MEMBER_MANAGE

    def post(self, request, pk):
        membership = get_team_object_or_404(member_list(team=self.team), self.team, pk=pk)
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose one of the roles.")
            return redirect("team_members")
        # A refusal (e.g. the last owner) is a page message (console.middleware).
        changed = member_role_change(
            membership=membership, role=form.cleaned_data["role"], by=self.membership
        )
        messages.success(request, f"{changed.user.email} is now {changed.get_role_display()}.")
        return redirect("team_members")


class TeamMemberRemoveView(TeamViewMixin, View):
    required_action = Action.MEMBER_MANAGE

    def post(self, request, pk):
        membership = get_team_object_or_404(member_list(team=self.team), self.team, pk=pk)
        member_remove(membership=membership, by=self.membership)  # refusals: console.middleware
        messages.success(request, f"{membership.user.email} is no longer in {self.team.name}.")
        if membership.pk == self.membership.pk:
            return redirect("home")
        return redirect("team_members")


class TeamMemberTransferView(TeamViewMixin, View):
    required_action = Action.TEAM_TRANSFER

    def post(self, request, pk):
        membership = get_team_object_or_404(member_list(team=self.team), self.team, pk=pk)
        team_ownership_transfer(team=self.team, by=self.membership, to=membership)
        messages.success(request, f"{membership.user.email} is now an owner; you are an admin.")
        return redirect("team_members")


class TeamLeaveView(TeamViewMixin, View):
    required_action = Action.CLUSTER_VIEW

    def post(self, request):
        member_remove(membership=self.membership, by=self.membership)  # refusals: middleware
        request.session.pop(SESSION_TEAM_KEY, None)
        messages.success(request, f"You left the team {self.team.name}.")
        return redirect("home")


class TeamInvitationsView(TeamPageMixin, TemplateView):
    required_action = Action.MEMBER_MANAGE
    template_name = "console/team_invitations.html"
    tab = "invitations"

    def get_context_data(self, **kwargs):
        kwargs.setdefault("form", InvitationForm())
        kwargs["form"].fields["role"].choices = assignable_roles(self.request.team_context)
        return super().get_context_data(
            invitations=invitation_pending_list(team=self.team),
            days=settings.SKIFF_INVITATION_DAYS,
            **kwargs,
        )

    def post(self, request):
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                created = invitation_create(
                    team=self.team,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    by=self.membership,
                    base_url=request.build_absolute_uri("/"),
                )
            except ValidationFailed as exc:
                exc.add_to_form(form)
            else:
                context = self.get_context_data(created=created)
                return self.render_to_response(context, status=201)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class TeamInvitationRevokeView(TeamViewMixin, View):
    required_action = Action.MEMBER_MANAGE

    def post(self, request, pk):
        invitation = get_team_object_or_404(Invitation.objects.all(), self.team, pk=pk)
        invitation_revoke(invitation=invitation)  # a refusal: a page message (middleware)
        messages.success(request, f"The invitation for {invitation.email} is revoked.")
        return redirect("team_invitations")


class InvitationAcceptView(View):
    """The link in an invitation: sign in and join, or create an account and join."""

    template_name = "console/invitation_accept.html"

    def dispatch(self, request, token):
        try:
            self.invitation = invitation_from_link(token)
        except Invitation.DoesNotExist:
            return self.refuse(
                "This invitation link is not valid. Check that you copied all of it, or ask a "
                "team admin for a new invitation.",
                status=404,
            )
        try:
            invitation_check_usable(self.invitation)
        except ValidationFailed as exc:
            return self.refuse(exc.message, status=410)
        return super().dispatch(request, token)

    def refuse(self, reason, status):
        return render(
            self.request, "console/invitation_invalid.html", {"reason": reason}, status=status
        )

    def render_page(self, form=None, status=200):
        user = self.request.user
        context = {
            "invitation": self.invitation,
            "form": form or AcceptInvitationForm(),
            "signed_in": user.is_authenticated,
            "email_matches": user.is_authenticated and user.email == self.invitation.email,
            "account_exists": User.objects.filter(email=self.invitation.email).exists(),
            "login_url": f"{reverse('login')}?{urlencode({'next': self.request.path})}",
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, token):
        return self.render_page()

    def post(self, request, token):
        if request.user.is_authenticated:
            try:
                membership = invitation_accept(invitation=self.invitation, user=request.user)
            except ValidationFailed as exc:
                messages.error(request, exc.message)
                return self.render_page(status=400)
        else:
            form = AcceptInvitationForm(request.POST)
            if not form.is_valid():
                return self.render_page(form, status=400)
            try:
                user = invitation_accept_new_user(
                    invitation=self.invitation,
                    password=form.cleaned_data["password1"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:  # the service's, or the password validators'
                if hasattr(exc, "error_dict"):
                    ApplicationError.wrap(exc).add_to_form(form)
                else:
                    form.add_error("password1", exc.messages)
                return self.render_page(form, status=400)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            membership = Membership.objects.get(team=self.invitation.team, user=user)
        request.session[SESSION_TEAM_KEY] = membership.team_id
        messages.success(
            request,
            f"Welcome to the team {membership.team.name}: you are {membership.get_role_display()}.",
        )
        return redirect("home")


class TeamTokensView(TeamPageMixin, TemplateView):
    required_action = Action.TOKEN_MANAGE
    template_name = "console/team_tokens.html"
    tab = "tokens"

    def get_context_data(self, **kwargs):
        context = self.request.team_context
        kwargs.setdefault("form", ApiTokenForm())
        return super().get_context_data(
            tokens=api_token_list(context=context, user=self.request.user),
            all_members=context.allows(Action.MEMBER_MANAGE),
            now=timezone.now(),
            **kwargs,
        )

    def post(self, request):
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                token, raw = api_token_create(
                    user=request.user,
                    team=self.team,
                    name=form.cleaned_data["name"],
                    expires_at=form.expires_at(),
                )
            except ValidationFailed as exc:
                exc.add_to_form(form)
            else:
                context = self.get_context_data(new_token=token, raw_token=raw)
                return self.render_to_response(context, status=201)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class TeamTokenRevokeView(TeamViewMixin, View):
    required_action = Action.TOKEN_MANAGE

    def post(self, request, pk):
        tokens = api_token_list(context=request.team_context, user=request.user)
        token = get_team_object_or_404(tokens, self.team, pk=pk)
        api_token_revoke(token=token)  # a refusal: a page message (console.middleware)
        messages.success(request, f"Token '{token.name}' is revoked.")
        return redirect("team_tokens")


AUDIT_PAGE_SIZE = 50


def audit_events_for(request, team) -> tuple[AuditFilterForm, QuerySet]:
    """The audit filter form bound to the query string, and the events it selects."""
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return form, AuditEvent.objects.none()
    return form, audit_event_list(team=team, **form.cleaned_data)


class TeamAuditView(TeamPageMixin, TemplateView):
    required_action = Action.AUDIT_VIEW
    template_name = "console/team_audit.html"
    tab = "audit"

    def get_context_data(self, **kwargs):
        form, events = audit_events_for(self.request, self.team)
        page = Paginator(events.select_related("actor_user"), AUDIT_PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(
            form=form,
            page=page,
            query=query.urlencode(),
            action_names=audit_action_names(team=self.team),
            **kwargs,
        )


AUDIT_CSV_COLUMNS = [
    "occurred_at",
    "actor",
    "source_ip",
    "action",
    "object_type",
    "object_id",
    "object",
    "before",
    "after",
]


def _csv_cell(value) -> str:
    """A spreadsheet must not run what a user typed: neutralise leading formula characters."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


class TeamAuditExportView(TeamViewMixin, View):
    required_action = Action.AUDIT_VIEW

    def get(self, request):
        form, events = audit_events_for(request, self.team)
        if not form.is_valid():
            return HttpResponse(
                "Invalid filter: " + ValidationFailed(form.errors).message,
                status=400,
                content_type="text/plain",
            )
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(AUDIT_CSV_COLUMNS)
            for event in events.iterator(chunk_size=500):
                yield writer.writerow(
                    [
                        _csv_cell(value)
                        for value in (
                            event.occurred_at.isoformat(),
                            event.actor_repr,
                            event.source_ip,
                            event.action,
                            event.target_type,
                            event.target_id,
                            event.target_repr,
                            json.dumps(event.before) if event.before is not None else "",
                            json.dumps(event.after) if event.after is not None else "",
                        )
                    ]
                )

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="skiff-audit-{self.team.slug}-{stamp}.csv"'
        )
        return response


# --- own account: password change and reset (Django's auth views, in the console's layout) ---


class PasswordChangeView(auth_views.PasswordChangeView):
    """The signed-in user's password; the session stays signed in afterwards."""

    template_name = "console/password_change.html"
    success_url = reverse_lazy("password_change")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password was changed.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Mails a one-time reset link to the address if it has an account (and says the same
    whether or not it has one)."""

    template_name = "console/password_reset.html"
    email_template_name = "console/email/password_reset.txt"
    subject_template_name = "console/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "console/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "console/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "console/password_reset_complete.html"


# --- platform staff: the second factor (TOTP; console/services/mfa.py) ----------------------


def _safe_next(request: HttpRequest, fallback: str) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return fallback


class StaffOnlyMixin:
    """Staff's own account pages: sign-in needed; anyone else gets 404, as on the fleet pages."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            # Django's 404 (the styled page, for every method): not a message and a redirect.
            raise Http404("Page not found.")
        return super().dispatch(request, *args, **kwargs)


@method_decorator(never_cache, name="dispatch")  # the page shows the authenticator's secret
class MfaSetupView(StaffOnlyMixin, View):
    """Enrol an authenticator app: QR code and the secret as text, confirmed with a code.

    With an authenticator already enrolled, the session must have passed it before a new one
    can be set up (otherwise a password alone would replace the second factor).
    """

    template_name = "console/mfa_setup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        current = mfa_confirmed_device(user=request.user)
        if current is not None and not request.user.is_verified():
            return redirect(f"{reverse('mfa_verify')}?{urlencode({'next': request.path})}")
        try:
            device = mfa_enrol_confirm(user=request.user, code=request.POST.get("code", ""))
        except ApplicationError as error:
            return self.render(request, error=error.message, status=error.status)
        otp_login(request, device)
        messages.success(request, "Two-factor sign-in is on: each sign-in now asks for a code.")
        return redirect(_safe_next(request, reverse("mfa_setup")))

    def render(self, request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
        current = mfa_confirmed_device(user=request.user)
        if current is not None and not request.user.is_verified():
            return redirect(f"{reverse('mfa_verify')}?{urlencode({'next': request.path})}")
        replacing = current is not None and (request.GET.get("replace") or error)
        context: dict = {
            "current": current,
            "required": settings.SKIFF_REQUIRE_STAFF_MFA,
            "error": error,
            "next": _safe_next(request, ""),
        }
        if current is None or replacing:
            device = mfa_pending_device(user=request.user)
            qr = segno.make(device.config_url, error="m")
            context |= {
                "replacing": bool(replacing),
                "secret": mfa_secret_text(device=device),
                "qr_svg": mark_safe(  # noqa: S308  # segno's own SVG of our otpauth URL
                    qr.svg_inline(scale=5, border=2, dark="#000", light="#fff", svgclass="skiff-qr")
                ),
            }
        return render(request, self.template_name, context, status=status)


class MfaVerifyView(StaffOnlyMixin, View):
    """After sign-in: the code from the staff user's authenticator, once per session."""

    template_name = "console/mfa_verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if mfa_confirmed_device(user=request.user) is None:
            query = urlencode({"next": _safe_next(request, "/")})
            return redirect(f"{reverse('mfa_setup')}?{query}")
        if request.user.is_verified():
            return redirect(_safe_next(request, reverse("home")))
        return render(request, self.template_name, {"next": _safe_next(request, "")})

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            device = mfa_verify(user=request.user, code=request.POST.get("code", ""))
        except ApplicationError as error:
            context = {"next": _safe_next(request, ""), "error": error.message}
            return render(request, self.template_name, context, status=error.status)
        otp_login(request, device)
        return redirect(_safe_next(request, reverse("home")))
