from django.urls import path

from fleet import views

app_name = "fleet"

urlpatterns = [
    path("", views.CellListView.as_view(), name="cell_list"),
    path("register/", views.CellRegisterView.as_view(), name="cell_register"),
    path("cells/<int:pk>/", views.CellDetailView.as_view(), name="cell_detail"),
    path("cells/<int:pk>/live/", views.CellLiveView.as_view(), name="cell_live"),
    path("cells/<int:pk>/admission/", views.CellAdmissionView.as_view(), name="cell_admission"),
    path(
        "cells/<int:pk>/brokers/<int:node_id>/",
        views.BrokerDetailView.as_view(),
        name="broker_detail",
    ),
    path(
        "cells/<int:pk>/operations/preview/",
        views.OperationPreviewView.as_view(),
        name="operation_preview",
    ),
    path("cells/<int:pk>/operations/", views.OperationStartView.as_view(), name="operation_start"),
    path("operations/<int:pk>/", views.OperationDetailView.as_view(), name="operation_detail"),
    path(
        "operations/<int:pk>/cancel/", views.OperationCancelView.as_view(), name="operation_cancel"
    ),
]
