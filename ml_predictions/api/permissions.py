"""Who may use /api/ml/: staff and superusers only (the spec: "SOLO Admin y Superusuario")."""
from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission

from ml_predictions.conf import ml_settings


class IsStaffOrSuperuser(BasePermission):
    message = "Only staff users and superusers may use the ML API."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser))


def ml_permission_classes() -> list[type[BasePermission]]:
    """The configured permission classes (ML_PREDICTIONS['PERMISSION_CLASSES']), resolved lazily."""
    return [import_string(path) for path in ml_settings.PERMISSION_CLASSES]


class MLAPIPermission(BasePermission):
    """Delegates to the configured classes at request time, so override_settings works in tests."""

    message = IsStaffOrSuperuser.message

    def has_permission(self, request: Any, view: Any) -> bool:
        for cls in ml_permission_classes():
            permission = cls()
            if not permission.has_permission(request, view):
                self.message = getattr(permission, "message", self.message)
                return False
        return True

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return all(cls().has_object_permission(request, view, obj) for cls in ml_permission_classes())
