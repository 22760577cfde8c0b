from django.contrib import admin

from fleet.models import Broker, Cell


class BrokerInline(admin.TabularInline):
    model = Broker
    extra = 0


@admin.register(Cell)
class CellAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "bootstrap_servers", "state"]
    inlines = [BrokerInline]
