from django.urls import path
from rest_framework.routers import SimpleRouter

from clusters.api.views import ClusterViewSet

router = SimpleRouter()
router.register("clusters", ClusterViewSet, basename="cluster")

urlpatterns = [
    # A file name, so no trailing slash (the router's own route has one too).
    path(
        "clusters/<int:pk>/ca.pem",
        ClusterViewSet.as_view({"get": "ca_pem"}),
        name="cluster-ca-file",
    ),
    *router.urls,
]
