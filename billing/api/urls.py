from django.urls import path
from rest_framework.routers import SimpleRouter

from billing.api.views import FinanceExportAPIView, InvoiceViewSet, UsageAPIView

router = SimpleRouter()
router.register("invoices", InvoiceViewSet, basename="invoice")

urlpatterns = [
    path("usage/", UsageAPIView.as_view(), name="usage"),
    # File names, so no trailing slash.
    path("invoices/<int:pk>/pdf", InvoiceViewSet.as_view({"get": "pdf"}), name="invoice-pdf"),
    path("invoices/<int:pk>/csv", InvoiceViewSet.as_view({"get": "csv"}), name="invoice-csv"),
    path(
        "exports/invoices.csv", FinanceExportAPIView.as_view(), name="finance-export-invoices-csv"
    ),
    *router.urls,
]
