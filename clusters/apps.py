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
