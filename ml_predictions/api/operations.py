"""API routes and views of the operations capability."""
from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
