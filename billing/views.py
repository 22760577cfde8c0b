from django.views.generic import TemplateView

from billing.prices import DEFAULT_METERS
from console.access import TeamViewMixin
from console.permissions import Action


class BillingOverviewView(TeamViewMixin, TemplateView):
    required_action = Action.BILLING_VIEW
    template_name = "billing/overview.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(nav="billing", meters=DEFAULT_METERS, **kwargs)
