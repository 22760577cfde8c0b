"""Billing models arrive with the billing issue (meters, price book, invoices)."""
