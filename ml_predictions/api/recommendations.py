"""API routes and views of the recommendations capability."""
from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
