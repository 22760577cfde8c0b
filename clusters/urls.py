from django.urls import path

from clusters import views

app_name = "clusters"

urlpatterns = [
    path("", views.ClusterListView.as_view(), name="list"),
    path("new/", views.ClusterCreateStartView.as_view(), name="create"),
    path("new/<uuid:draft_id>/<slug:step>/", views.ClusterWizardView.as_view(), name="wizard"),
    path("<int:pk>/", views.ClusterDetailView.as_view(), name="detail"),
    path("<int:pk>/status/", views.ClusterStatusView.as_view(), name="status"),
    path("<int:pk>/retry/", views.ClusterRetryView.as_view(), name="retry"),
    path("<int:pk>/delete/", views.ClusterDeleteView.as_view(), name="delete"),
    path("<int:pk>/ca.pem", views.ClusterCaView.as_view(), name="ca"),
]
