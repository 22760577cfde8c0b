from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from console.access import SESSION_TEAM_KEY, TeamViewMixin, membership_for
from console.forms import EmailAuthenticationForm
from console.models import Membership, Role
from console.permissions import Action, role_allows


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


class TeamOverviewView(TeamViewMixin, TemplateView):
    """The team's members and what each role may do (the permission table, rendered)."""

    required_action = Action.CLUSTER_VIEW
    template_name = "console/team_overview.html"

    def get_context_data(self, **kwargs):
        members = Membership.objects.filter(team=self.team).select_related("user")
        actions = list(Action)
        matrix = [
            (role.label, [role_allows(role.value, action) for action in actions]) for role in Role
        ]
        return super().get_context_data(
            nav="team", members=members, actions=actions, matrix=matrix, **kwargs
        )
