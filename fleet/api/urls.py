from django.urls import path

from fleet.api import views

urlpatterns = [
    path("cells/", views.CellListAPIView.as_view(), name="fleet-cell-list"),
    path("cells/<int:pk>/", views.CellDetailAPIView.as_view(), name="fleet-cell-detail"),
    path("cells/<int:pk>/brokers/", views.BrokerListAPIView.as_view(), name="fleet-broker-list"),
    path(
        "cells/<int:pk>/brokers/<int:node_id>/",
        views.BrokerDetailAPIView.as_view(),
        name="fleet-broker-detail",
    ),
    path("operations/", views.OperationListAPIView.as_view(), name="fleet-operation-list"),
    path(
        "operations/preview/",
        views.OperationPreviewAPIView.as_view(),
        name="fleet-operation-preview",
    ),
    path(
        "operations/<int:pk>/",
        views.OperationDetailAPIView.as_view(),
        name="fleet-operation-detail",
    ),
    path(
        "operations/<int:pk>/cancel/",
        views.OperationCancelAPIView.as_view(),
        name="fleet-operation-cancel",
    ),
    path("placement/", views.PlacementAPIView.as_view(), name="fleet-placement"),
]
