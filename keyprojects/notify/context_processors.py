from keyprojects.notify.delivery import unread_count


def unread_notifications(request):
    """The unread count shown in the menu (one indexed COUNT per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": unread_count(user)}
