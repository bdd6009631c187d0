from django import template

from accounts import roles
from privacy.selectors import contact_consent_log

register = template.Library()


@register.inclusion_tag("privacy/_contact_privacy_section.html", takes_context=True)
def privacy_section(context, contact):
    """The contact page's privacy card: the consent log for everyone, export and erase for admins."""
    request = context.get("request")
    return {
        "contact": contact,
        "consent_log": list(contact_consent_log(contact=contact)),
        "can_manage": roles.has_any(getattr(request, "user", None), roles.MANAGE_USERS),
    }
