"""File downloads shared by the pages and the API."""

from django.http import FileResponse, Http404

from clusters.models import Cluster
from clusters.services.snippets import CA_FILE


def cluster_ca_response(cluster: Cluster) -> FileResponse:
    """The platform CA certificate that clients use to verify the cell's TLS listener."""
    if cluster.cell is None:
        raise Http404("This cluster is not placed on a cell yet.")
    return FileResponse(
        open(cluster.cell.ca_path, "rb"),
        content_type="application/x-pem-file",
        as_attachment=True,
        filename=CA_FILE,
    )
