"""Base classes every ML API view shares: authentication, the configurable permission, errors."""
from __future__ import annotations

from rest_framework import generics, viewsets
from rest_framework.views import APIView

from ml_predictions.api.permissions import MLAPIPermission


class MLAPIView(APIView):
    permission_classes = [MLAPIPermission]


class MLGenericAPIView(generics.GenericAPIView):
    permission_classes = [MLAPIPermission]


class MLReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [MLAPIPermission]
