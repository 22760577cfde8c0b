from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction

from console.audit import audit_record
from console.models import ApiToken, Membership, Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "last_login"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        """A team made or renamed here leaves an audit event, like one made by the service."""
        with transaction.atomic():
            before = None
            if change:
                old = Team.objects.filter(pk=obj.pk).values("name", "slug").first()
                before = old
            super().save_model(request, obj, form, change)
            after = {"name": obj.name, "slug": obj.slug, "via": "platform admin"}
            if not change:
                audit_record(team=obj, action="team.create", target=obj, after=after)
            elif before and (before["name"], before["slug"]) != (obj.name, obj.slug):
                audit_record(team=obj, action="team.update", target=obj, before=before, after=after)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "team", "key_hint", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "key_hint"]
