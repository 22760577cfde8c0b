from console.api.permissions import TeamActionPermission, api_team_context


class TeamScopedAPIMixin:
    """Every team API view: auth + role check, and querysets limited to the request's team.

    Subclasses set `queryset` and may add filters in `filter_queryset`; they never see another
    team's rows, so a foreign id is a 404.
    """

    permission_classes = [TeamActionPermission]
    team_field = "team"

    @property
    def team(self):
        return api_team_context(self.request).team

    def get_queryset(self):
        return super().get_queryset().filter(**{self.team_field: self.team})
