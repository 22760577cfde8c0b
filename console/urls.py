from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clusters.views import ClusterListView
from console import views
from console.api.views import CurrentTeamAPIView

api_v1 = [
    path("team/", CurrentTeamAPIView.as_view(), name="api-team"),
    path("", include("clusters.api.urls")),
]

urlpatterns = [
    path("", ClusterListView.as_view(), name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("team/switch/", views.team_switch, name="team_switch"),
    path("team/", views.TeamOverviewView.as_view(), name="team_overview"),
    path("team/none/", views.no_team, name="no_team"),
    path("billing/", include("billing.urls")),
    path("clusters/", include("clusters.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
