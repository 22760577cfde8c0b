"""Fleet API (issue 14): /api/v1/fleet/… mirrors the fleet pages for automation.

Platform staff only (`User.is_staff`, by browser session or by an API token of theirs): any
other caller, anonymous included, gets 404, as on the pages. Reads come from fleet.selectors and
fleet.services.cell_status; writes go through the services (registration, admission,
operations), which audit them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.errors import Conflict, NotFound, ValidationFailed
from fleet.api.serializers import (
    AdmissionInput,
    AutoscaleDecisionOutput,
    BrokerStatusOutput,
    CellDetailOutput,
    CellListOutput,
    CellStatusOutput,
    FleetOperationOutput,
    OperationInput,
    OperationPreviewOutput,
    PlacementOutput,
    RegisterCellInput,
)
from fleet.models import Cell, FleetOperation
from fleet.previews import preview_lines
from fleet.selectors import (
    PlacementCandidate,
    cell_autoscale_decisions,
    cell_operations,
    operation_list,
    placement_candidates,
)
from fleet.services import operations
from fleet.services.cell_status import cell_status
from fleet.services.registration import register_external_cell, set_cell_admission

TAG = ["fleet"]
NOT_FOUND = OpenApiResponse(description="Not platform staff, or no such object.")
BAD_REQUEST = OpenApiResponse(description="Invalid input (the body names each field).")


class IsPlatformStaff(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class FleetAPIView(APIView):
    """Staff only; anyone else gets 404 (never 401/403: the fleet is nobody else's business)."""

    permission_classes = [IsPlatformStaff]

    def permission_denied(self, request: Request, message: str | None = None, code=None) -> None:
        raise exceptions.NotFound()


def _cell(pk: int) -> Cell:
    cell = Cell.objects.filter(pk=pk).first()
    if cell is None:
        raise NotFound("No such cell.")
    return cell


def _with_placement(cell: Cell, candidate: PlacementCandidate) -> Cell:
    cell.load = candidate.load  # type: ignore[attr-defined]
    cell.placement_rank = candidate.rank  # type: ignore[attr-defined]
    cell.placement_reason = candidate.reason  # type: ignore[attr-defined]
    return cell


def _placed(cell: Cell) -> Cell:
    candidate = next(c for c in placement_candidates() if c.cell.pk == cell.pk)
    return _with_placement(cell, candidate)


def operations_service() -> ModuleType:
    return operations


class CellListAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="List cells",
        description="Every cell with its tenants, partition budget, stored bytes, ingress and "
        "placement rank (database only; no Kafka call).",
        responses={200: CellListOutput(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        cells = [_with_placement(c.cell, c) for c in placement_candidates()]
        cells.sort(key=lambda c: c.name)
        return Response(CellListOutput(cells, many=True).data)

    @extend_schema(
        tags=TAG,
        summary="Register an existing Kafka as a cell",
        description="Connects with the admin SCRAM credential and CA, and refuses the cell "
        "(400, code `cell_refused`, `checks` naming each reason) without an authorizer, "
        "SCRAM, allow.everyone.if.no.acl.found=false, RF >= 3 and min ISR >= 2 (3+ brokers), "
        "or a reachable metrics endpoint per broker.",
        request=RegisterCellInput,
        responses={201: CellListOutput, 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        data = RegisterCellInput(data=request.data)
        data.is_valid(raise_exception=True)
        cell = register_external_cell(**data.validated_data)
        return Response(CellListOutput(_placed(cell)).data, status=status.HTTP_201_CREATED)


class CellDetailAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="A cell, read live",
        description="The cell's record, load and placement, its live status (brokers, "
        "controller quorum, partitions and leaders per broker with the skew, disk, rates, "
        "under-replicated and offline partitions, health problems), its recent operations "
        "and autoscaler decisions.",
        responses={200: CellDetailOutput, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        cell = _placed(_cell(pk))
        body = dict(CellListOutput(cell).data)
        body["status"] = CellStatusOutput(cell_status(cell)).data
        body["operations"] = FleetOperationOutput(cell_operations(cell), many=True).data
        body["autoscale_decisions"] = AutoscaleDecisionOutput(
            cell_autoscale_decisions(cell), many=True
        ).data
        return Response(body)

    @extend_schema(
        tags=TAG,
        summary="Open, drain or close a cell to new clusters",
        description="`admission`: open (placement may put new clusters here), draining or "
        "closed (it takes none). Clusters already on the cell stay. Audited.",
        request=AdmissionInput,
        responses={200: CellListOutput, 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    def patch(self, request: Request, pk: int) -> Response:
        cell = _cell(pk)
        data = AdmissionInput(data=request.data)
        data.is_valid(raise_exception=True)
        cell = set_cell_admission(cell=cell, admission=data.validated_data["admission"])
        return Response(CellListOutput(_placed(cell)).data)


class BrokerListAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="A cell's brokers, read live",
        responses={200: BrokerStatusOutput(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        status_ = cell_status(_cell(pk))
        return Response(BrokerStatusOutput(status_.brokers, many=True).data)


class BrokerDetailAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="One broker, read live",
        description="Status (up, down, fenced, unregistered), partitions, leaders, rates, "
        "disk and the sampler's last metrics scrape.",
        responses={200: BrokerStatusOutput, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int, node_id: int) -> Response:
        broker = cell_status(_cell(pk)).broker(node_id)
        if broker is None:
            raise NotFound("No such broker in this cell.")
        return Response(BrokerStatusOutput(broker).data)


class OperationListAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="List fleet operations",
        parameters=[OpenApiParameter("cell", OpenApiTypes.INT, description="Only this cell's.")],
        responses={200: FleetOperationOutput(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        cell_id = request.query_params.get("cell")
        operations: QuerySet[FleetOperation] = operation_list()
        if cell_id:
            if not cell_id.isdigit():
                raise ValidationFailed({"cell": "A cell id (a whole number)."})
            operations = operations.filter(cell_id=int(cell_id))
        return Response(FleetOperationOutput(operations[:200], many=True).data)

    @extend_schema(
        tags=TAG,
        summary="Start a fleet operation",
        description="add_broker, remove_broker, rebalance (mode full, add-brokers or "
        "remove-brokers) or rolling_restart. 409 when another operation is active on the "
        "cell. Preview it first (operations/preview/). Audited.",
        request=OperationInput,
        responses={201: FleetOperationOutput, 400: BAD_REQUEST, 404: NOT_FOUND, 409: None},
    )
    def post(self, request: Request) -> Response:
        data = OperationInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        cell = _cell(values["cell"])
        operation = operations_service().start_operation(
            cell=cell,
            kind=values["kind"],
            mode=values["mode"],
            broker_ids=tuple(values["broker_ids"]),
            requested_by=request.user.email,
            throttle_bytes_per_second=values["throttle_bytes_per_second"],
        )
        return Response(FleetOperationOutput(operation).data, status=status.HTTP_201_CREATED)


class OperationPreviewAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="Preview a fleet operation (no side effects)",
        request=OperationInput,
        responses={200: OperationPreviewOutput, 400: BAD_REQUEST, 404: NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        data = OperationInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        cell = _cell(values["cell"])
        preview = operations_service().preview_operation(
            cell=cell,
            kind=values["kind"],
            mode=values["mode"],
            broker_ids=tuple(values["broker_ids"]),
        )
        summary = getattr(preview, "summary", None)
        summary = summary() if callable(summary) else summary
        if not isinstance(summary, dict):
            summary = dict(preview_lines(preview))
        return Response(
            {
                "cell": cell.pk,
                "kind": values["kind"],
                "mode": values["mode"],
                "broker_ids": values["broker_ids"],
                "summary": summary,
            }
        )


def _operation(pk: int) -> FleetOperation:
    operation = FleetOperation.objects.select_related("cell").filter(pk=pk).first()
    if operation is None:
        raise NotFound("No such operation.")
    return operation


class OperationDetailAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="A fleet operation and its progress",
        responses={200: FleetOperationOutput, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(FleetOperationOutput(_operation(pk)).data)


class OperationCancelAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="Cancel a fleet operation",
        description="The batch in flight is cancelled, the replication throttle cleared. 409 "
        "for an operation that has ended already. Audited.",
        request=None,
        responses={200: FleetOperationOutput, 404: NOT_FOUND, 409: None},
    )
    def post(self, request: Request, pk: int) -> Response:
        operation = _operation(pk)
        if not operation.is_active:
            raise Conflict(
                f"The operation has ended already ({operation.state}).", code="operation_ended"
            )
        operation = operations_service().cancel_operation(operation=operation)
        return Response(FleetOperationOutput(operation).data)


class PlacementAPIView(FleetAPIView):
    @extend_schema(
        tags=TAG,
        summary="Where a new cluster would go, and why",
        description="Every cell, ranked: open, healthy cells with room for one default topic, "
        "most free partitions first, then fewest bytes stored, then least ingress. Cells "
        "that take none say why (not healthy, draining/closed, at capacity).",
        responses={200: PlacementOutput(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        return Response(PlacementOutput(placement_candidates(), many=True).data)
