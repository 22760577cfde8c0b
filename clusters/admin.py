from django.contrib import admin

from clusters.models import Broker, Cell, Cluster


class BrokerInline(admin.TabularInline):
    model = Broker
    extra = 0


@admin.register(Cell)
class CellAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "bootstrap_servers", "state"]
    inlines = [BrokerInline]


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "cell", "state", "created_at"]
    list_filter = ["state"]
