"""The host's routes plus /bench/bare/: the same JWT authentication and staff permission as the plugin's
views, no work, so the throughput benchmark can tell the framework's cost from ours."""
from django.urls import path
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from backend_django.urls import urlpatterns as host_urlpatterns


class BareView(APIView):
    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAdminUser]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("bench/bare/", BareView.as_view()), *host_urlpatterns]
