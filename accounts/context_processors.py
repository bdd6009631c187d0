from accounts import roles as role_rules


def roles(request):
    """``roles``: the current user's role names; ``can``: capability flags for templates."""
    user_roles = role_rules.roles_of(getattr(request, "user", None))
    return {
        "roles": user_roles,
        "can": {
            "work_contacts": bool(user_roles & role_rules.WORK_CONTACTS),
            "edit_funnel": bool(user_roles & role_rules.EDIT_FUNNEL),
            "manage_users": bool(user_roles & role_rules.MANAGE_USERS),
        },
    }
