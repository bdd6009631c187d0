from django.contrib import admin

from funnel.models import Company, Contact, Stage, StageTransition, Tag
from funnel.services import contact_move_stage, record_entry


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["position", "key", "name"]
    list_display_links = ["key"]
    readonly_fields = ["key", "position"]

    def has_add_permission(self, request):
        # The funnel's six stages are fixed by migration; integrations rely on their keys.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "industry", "employees", "created_at"]
    search_fields = ["name", "domain"]
    list_filter = ["industry"]
    show_full_result_count = False


class TransitionInline(admin.TabularInline):
    model = StageTransition
    fk_name = "contact"
    fields = ["at", "from_stage", "to_stage", "by", "rule", "reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "company", "stage", "owner", "score", "created_at"]
    list_select_related = ["company", "stage", "owner"]
    list_filter = ["stage"]
    search_fields = ["email", "first_name", "last_name"]
    raw_id_fields = ["company", "owner"]
    readonly_fields = ["score", "fit_score", "engagement_score", "created_at", "updated_at"]
    inlines = [TransitionInline]
    # A million contacts: counting them all for the admin's "x of y" costs more than it tells.
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        """Stage changes made in the admin go through the same service as everywhere else."""
        if not change:
            super().save_model(request, obj, form, change)
            record_entry(contact=obj, by=request.user, reason="created in the admin")
            return
        new_stage = obj.stage
        if "stage" in form.changed_data:
            obj.stage_id = form.initial["stage"]
        super().save_model(request, obj, form, change)
        contact_move_stage(contact=obj, stage=new_stage, by=request.user, reason="changed in the admin")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]
