"""Fleet pages (issue 14): cells, brokers, operations, registration. Platform staff only.

Every route answers 404 to anyone else, anonymous included: the fleet is not a tenant's
business, not even its existence. Views are thin: reads come from fleet.selectors and
fleet.services.cell_status, writes from the services (registration, operations).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from console.errors import ApplicationError, NotFound
from fleet.forms import AdmissionForm, OperationForm, RegisterCellForm
from fleet.models import Broker, Cell, FleetOperation
from fleet.previews import preview_lines
from fleet.selectors import (
    cell_active_operation,
    cell_autoscale_decisions,
    cell_connect_workers,
    cell_loads,
    cell_operations,
    placement_candidates,
)
from fleet.services import operations
from fleet.services.cell_status import cell_status
from fleet.services.registration import CellRefused, register_external_cell, set_cell_admission

OPERATION_POLL_SECONDS = 2
LIVE_POLL_SECONDS = 10


def operations_service() -> ModuleType | None:
    """fleet.services.operations (preview, start, cancel)."""
    return operations


class FleetStaffView(View):
    """Base of every fleet page: platform staff (`is_staff`) only, 404 for everyone else."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            # Django's 404 (the styled page, for every method): not a message and a redirect.
            raise Http404("Page not found.")
        return super().dispatch(request, *args, **kwargs)

    def render(
        self, request: HttpRequest, template: str, *, http_status: int = 200, **context: Any
    ) -> HttpResponse:
        return render(request, template, {"nav": "fleet", **context}, status=http_status)


def _cell_or_404(pk: int) -> Cell:
    cell = Cell.objects.filter(pk=pk).first()
    if cell is None:
        raise NotFound("No such cell.")
    return cell


def _operation_or_404(pk: int) -> FleetOperation:
    operation = FleetOperation.objects.select_related("cell").filter(pk=pk).first()
    if operation is None:
        raise NotFound("No such operation.")
    return operation


class CellListView(FleetStaffView):
    def get(self, request: HttpRequest) -> HttpResponse:
        candidates = placement_candidates()
        rows = sorted(candidates, key=lambda c: c.cell.name)
        return self.render(
            request,
            "fleet/cell_list.html",
            rows=rows,
            next_cell=next((c for c in candidates if c.rank == 1), None),
        )


class CellDetailView(FleetStaffView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        cell = _cell_or_404(pk)
        return self.render(request, "fleet/cell_detail.html", **_cell_context(cell))


def _cell_context(cell: Cell, **extra: Any) -> dict[str, Any]:
    load = cell_loads([cell])[cell.pk]
    placement = next(c for c in placement_candidates() if c.cell.pk == cell.pk)
    return {
        "cell": cell,
        "load": load,
        "placement": placement,
        "admission_form": AdmissionForm(initial={"admission": cell.admission}),
        "operation_form": extra.pop("operation_form", None) or OperationForm(),
        "operations": cell_operations(cell),
        "active_operation": cell_active_operation(cell),
        "operations_available": operations_service() is not None,
        "decisions": cell_autoscale_decisions(cell),
        "connect_workers": cell_connect_workers(cell),
        "live_poll": LIVE_POLL_SECONDS,
        **extra,
    }


class CellLiveView(FleetStaffView):
    """The live half of the cell page (brokers, quorum, partitions), polled by htmx."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        cell = _cell_or_404(pk)
        return self.render(
            request,
            "fleet/partials/_cell_live.html",
            cell=cell,
            status=cell_status(cell),
            live_poll=LIVE_POLL_SECONDS,
        )


class CellAdmissionView(FleetStaffView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cell = _cell_or_404(pk)
        form = AdmissionForm(request.POST)
        if form.is_valid():
            cell = set_cell_admission(cell=cell, admission=form.cleaned_data["admission"])
            messages.success(
                request, f"Cell {cell.name} is now {cell.get_admission_display().lower()}."
            )
        else:
            messages.error(request, "Choose open, draining or closed.")
        return redirect("fleet:cell_detail", pk=cell.pk)


class BrokerDetailView(FleetStaffView):
    def get(self, request: HttpRequest, pk: int, node_id: int) -> HttpResponse:
        cell = _cell_or_404(pk)
        row = Broker.objects.filter(cell=cell, node_id=node_id).first()
        status = cell_status(cell)
        broker = status.broker(node_id)
        if row is None and broker is None:
            raise NotFound("No such broker in this cell.")
        return self.render(
            request,
            "fleet/broker_detail.html",
            cell=cell,
            row=row,
            broker=broker,
            status=status,
            quorum_voter=next((v for v in status.quorum_voters if v.node_id == node_id), None),
        )


class OperationPreviewView(FleetStaffView):
    """Step 1: what the operation would do (no side effects), with a confirm button."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cell = _cell_or_404(pk)
        form = OperationForm(request.POST)
        service = operations_service()
        preview = None
        error = ""
        if service is None:
            error = "Fleet operations are not available in this installation yet."
        elif form.is_valid():
            try:
                preview = service.preview_operation(
                    cell=cell,
                    kind=form.cleaned_data["kind"],
                    mode=form.cleaned_data["mode"],
                    broker_ids=tuple(form.cleaned_data["broker_ids"]),
                )
            except ApplicationError as exc:
                error = exc.message
        template = (
            "fleet/partials/_operation_preview.html"
            if request.headers.get("HX-Request")
            else "fleet/operation_preview.html"
        )
        return self.render(
            request,
            template,
            cell=cell,
            form=form,
            preview=preview,
            preview_lines=preview_lines(preview),
            error=error,
        )


class OperationStartView(FleetStaffView):
    """Step 2: confirmed; start it and go to its progress page."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        cell = _cell_or_404(pk)
        form = OperationForm(request.POST)
        service = operations_service()
        if service is None:
            messages.error(request, "Fleet operations are not available in this installation yet.")
            return redirect("fleet:cell_detail", pk=cell.pk)
        if not form.is_valid():
            messages.error(request, "The operation's input is not valid; preview it again.")
            return redirect("fleet:cell_detail", pk=cell.pk)
        try:
            operation = service.start_operation(
                cell=cell,
                kind=form.cleaned_data["kind"],
                mode=form.cleaned_data["mode"],
                broker_ids=tuple(form.cleaned_data["broker_ids"]),
                requested_by=request.user.email,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("fleet:cell_detail", pk=cell.pk)
        messages.success(request, f"Started: {operation.get_kind_display()} on {cell.name}.")
        return redirect("fleet:operation_detail", pk=operation.pk)


class OperationDetailView(FleetStaffView):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        operation = _operation_or_404(pk)
        template = (
            "fleet/partials/_operation_progress.html"
            if request.headers.get("HX-Request")
            else "fleet/operation_detail.html"
        )
        return self.render(
            request,
            template,
            operation=operation,
            cell=operation.cell,
            poll=OPERATION_POLL_SECONDS,
            moves=(operation.plan or {}).get("moves", [])[:200],
        )


class OperationCancelView(FleetStaffView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        operation = _operation_or_404(pk)
        service = operations_service()
        if service is None:
            messages.error(request, "Fleet operations are not available in this installation yet.")
        elif not operation.is_active:
            messages.info(request, f"The operation is {operation.state} already.")
        else:
            try:
                operation = service.cancel_operation(operation=operation)
                messages.success(request, "Cancelling: the current batch finishes or is undone.")
            except ApplicationError as exc:
                messages.error(request, exc.message)
        return redirect("fleet:operation_detail", pk=operation.pk)


class CellRegisterView(FleetStaffView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, "fleet/cell_register.html", form=RegisterCellForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RegisterCellForm(request.POST)
        refusal = None
        if form.is_valid():
            data = form.cleaned_data
            try:
                cell = register_external_cell(
                    name=data["name"],
                    bootstrap_servers=data["bootstrap_servers"],
                    client_bootstrap_servers=data["client_bootstrap_servers"],
                    username=data["username"],
                    password=data["password"],
                    ca_pem=data["ca_pem"],
                    metrics_url=data["metrics_url"],
                    metrics_username=data["metrics_username"],
                    metrics_password=data["metrics_password"],
                    admission=data["admission"],
                )
            except CellRefused as exc:
                refusal = exc.check
            except ApplicationError as exc:
                exc.add_to_form(form)
            else:
                messages.success(request, f"Cell {cell.name} is registered.")
                return redirect("fleet:cell_detail", pk=cell.pk)
        return self.render(
            request, "fleet/cell_register.html", http_status=400, form=form, refusal=refusal
        )
