"""API routes and views of the inventory capability."""
from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
