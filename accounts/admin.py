from django.contrib import admin

from accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at"]
    list_select_related = ["user"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    search_fields = ["user__username", "name", "prefix"]

    def has_add_permission(self, request):
        # Keys are shown once at creation; the admin could not show it, so creation lives in the UI/command.
        return False
