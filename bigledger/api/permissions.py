"""What a key's user must hold to use an endpoint, beyond being authenticated.

A view names the Django permissions it needs in `required_permissions`; a user lacking one is
answered 403 PERMISSION_ERROR naming it. Writes inside a batch are checked per record by the
engine instead (add, change or delete on the entity's model), so a batch goes ahead in part."""

from django.db.models import Model
from rest_framework.permissions import BasePermission, IsAuthenticated


def permission_name(model: type[Model], action: str) -> str:
    """`app_label.action_modelname`, the name Django gives a model's default permissions."""
    opts = model._meta
    return f"{opts.app_label}.{action}_{opts.model_name}"


def view_permission(model: type[Model]) -> str:
    return permission_name(model, "view")


class HoldsRequiredPermissions(BasePermission):
    """The user holds every permission in the view's `required_permissions`."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        missing = [name for name in view.required_permissions if not user.has_perm(name)]
        if missing:
            # DRF makes a new instance per check, so the message is this request's own.
            noun = "permission" if len(missing) == 1 else "permissions"
            self.message = f"This key's user lacks the {noun} {', '.join(missing)}."
        return not missing


# A view's `permission_classes`: authentication first, so a missing key is still 401.
REQUIRES_PERMISSIONS = [IsAuthenticated, HoldsRequiredPermissions]
