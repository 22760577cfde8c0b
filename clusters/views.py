from django.views.generic import ListView

from clusters.models import Cluster
from console.access import TeamViewMixin, scope_to_team
from console.permissions import Action


class ClusterListView(TeamViewMixin, ListView):
    """Home: the current team's serverless clusters."""

    required_action = Action.CLUSTER_VIEW
    template_name = "clusters/cluster_list.html"
    context_object_name = "clusters"

    def get_queryset(self):
        return scope_to_team(Cluster.objects.select_related("cell"), self.team).order_by("name")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["nav"] = "clusters"
        context["can_manage"] = self.request.team_context.allows(Action.CLUSTER_MANAGE)
        return context
