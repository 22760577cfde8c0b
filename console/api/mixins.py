from typing import Any

from console.api.permissions import TeamActionPermission, api_team_context


class TeamScopedAPIMixin:
    """Every team API view: auth + role check, and querysets limited to the request's team.

    Subclasses set `queryset` and may add filters in `filter_queryset`; they never see another
    team's rows, so a foreign id is a 404.
    """

    # (Not in the docstring: drf-spectacular shows it as the description of every operation.)
    # The objects a URL names are looked up right after the permission check, before the view
    # reads its body (`lookup_url_objects`): another team's id is a 404 whatever the body holds,
    # never a 400 that tells the id exists.

    permission_classes = [TeamActionPermission]
    team_field = "team"
    url_object: Any = None  # what the URL names, once looked up (lookup_url_objects)

    @property
    def team(self):
        return api_team_context(self.request).team

    def get_queryset(self):
        return super().get_queryset().filter(**{self.team_field: self.team})

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.lookup_url_objects()

    def lookup_url_objects(self) -> None:
        """Look up what the URL names (a 404 if it is not the team's), kept as `url_object` for
        the view, which need not read it again. Views whose URL names something other than
        their queryset's object override this."""
        lookup = getattr(self, "lookup_url_kwarg", None) or getattr(self, "lookup_field", "pk")
        if lookup in self.kwargs and hasattr(self, "get_object"):
            self.url_object = self.get_object()
