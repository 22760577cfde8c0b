from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from clusters.views.clusters import ClusterListView
from console import views
from console.api.views import CurrentTeamAPIView

api_v1 = [
    path("team/", CurrentTeamAPIView.as_view(), name="api-team"),
    path("", include("console.api.urls")),
    path("", include("clusters.api.urls")),
    path("", include("billing.api.urls")),
    path("fleet/", include("fleet.api.urls")),
]

urlpatterns = [
    path("", ClusterListView.as_view(), name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password_change"),
    # Platform staff's second factor (SKIFF_REQUIRE_STAFF_MFA): enrol an authenticator app,
    # and the code asked after sign-in.
    path("account/two-factor/", views.MfaSetupView.as_view(), name="mfa_setup"),
    path("account/two-factor/verify/", views.MfaVerifyView.as_view(), name="mfa_verify"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    # The token in this URL is masked in every log line (console/log_redaction.py).
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("team/switch/", views.team_switch, name="team_switch"),
    path("team/", views.TeamOverviewView.as_view(), name="team_overview"),
    path("team/none/", views.no_team, name="no_team"),
    path("team/leave/", views.TeamLeaveView.as_view(), name="team_leave"),
    path("team/members/", views.TeamMembersView.as_view(), name="team_members"),
    path(
        "team/members/<int:pk>/role/", views.TeamMemberRoleView.as_view(), name="team_member_role"
    ),
    path(
        "team/members/<int:pk>/remove/",
        views.TeamMemberRemoveView.as_view(),
        name="team_member_remove",
    ),
    path(
        "team/members/<int:pk>/transfer-ownership/",
        views.TeamMemberTransferView.as_view(),
        name="team_member_transfer",
    ),
    path("team/invitations/", views.TeamInvitationsView.as_view(), name="team_invitations"),
    path(
        "team/invitations/<int:pk>/revoke/",
        views.TeamInvitationRevokeView.as_view(),
        name="team_invitation_revoke",
    ),
    path("team/tokens/", views.TeamTokensView.as_view(), name="team_tokens"),
    path(
        "team/tokens/<int:pk>/revoke/",
        views.TeamTokenRevokeView.as_view(),
        name="team_token_revoke",
    ),
    path("team/audit/", views.TeamAuditView.as_view(), name="team_audit"),
    path("team/audit/export.csv", views.TeamAuditExportView.as_view(), name="team_audit_export"),
    path("invite/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("billing/", include("billing.urls")),
    path("clusters/", include("clusters.urls")),
    path("fleet/", include("fleet.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script from a URL: no inline script under the CSP.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="console/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]

# Styled error pages inside the layout (console/error_pages.py); never Django's bare ones.
handler400 = "console.error_pages.bad_request"
handler403 = "console.error_pages.permission_denied"
handler404 = "console.error_pages.page_not_found"
handler500 = "console.error_pages.server_error"
