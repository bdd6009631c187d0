"""``{% unread_notifications_count %}``: the current user's unread notifications (one COUNT query).

Used by the bell fragment that base.html loads by HTMX, so ordinary pages do not pay the query.
"""

from django import template

from notifications.selectors import notification_unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications_count(context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return notification_unread_count(user=user)
