from rest_framework.routers import SimpleRouter

from console.api.team_views import (
    ApiTokenViewSet,
    AuditEventViewSet,
    TeamInvitationViewSet,
    TeamMemberViewSet,
)

router = SimpleRouter()
router.register("team/members", TeamMemberViewSet, basename="team-member")
router.register("team/invitations", TeamInvitationViewSet, basename="team-invitation")
router.register("tokens", ApiTokenViewSet, basename="token")
router.register("audit-events", AuditEventViewSet, basename="audit-event")

urlpatterns = router.urls
