from django.apps import AppConfig


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Serverless clusters"

    def ready(self) -> None:
        # Registers the periodic tasks (topic sync) before any scheduler reads the list.
        from clusters import tasks  # noqa: F401
        from clusters.selectors import ClusterDirectory
        from fleet.tenancy import register_tenant_directory

        # The fleet's sampler maps wire topics to clusters through this (fleet never imports us).
        register_tenant_directory(ClusterDirectory())

        # Fleet changes (admission, registration, operations) go to the audit log, team-less.
        from console.audit import audit_record
        from fleet.audit import register_audit_recorder

        def record_fleet_event(*, action, target=None, before=None, after=None) -> None:
            audit_record(team=None, action=action, target=target, before=before, after=after)

        register_audit_recorder(record_fleet_event)
