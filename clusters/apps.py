from django.apps import AppConfig


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Serverless clusters"

    def ready(self) -> None:
        # Registers the periodic tasks (topic sync) before any scheduler reads the list.
        from clusters import tasks  # noqa: F401
