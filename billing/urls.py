from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.UsageView.as_view(), name="usage"),
    path(
        "usage/clusters/<int:pk>/topics/",
        views.UsageTopicsView.as_view(),
        name="usage_topics",
    ),
    path("invoices/", views.InvoiceListView.as_view(), name="invoices"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice_detail"),
    path("invoices/<int:pk>/refresh/", views.InvoiceRefreshView.as_view(), name="invoice_refresh"),
    # File names, so no trailing slash.
    path("invoices/<int:pk>/invoice.pdf", views.InvoicePdfView.as_view(), name="invoice_pdf"),
    path("invoices/<int:pk>/invoice.csv", views.InvoiceCsvView.as_view(), name="invoice_csv"),
    # Platform staff
    path("finance/", views.FinanceExportView.as_view(), name="finance_export"),
    path("finance/invoices.csv", views.FinanceExportCsvView.as_view(), name="finance_export_csv"),
    path("prices/", views.PriceBookView.as_view(), name="price_book"),
    path(
        "prices/withdraw/", views.PriceVersionWithdrawView.as_view(), name="price_version_withdraw"
    ),
]
