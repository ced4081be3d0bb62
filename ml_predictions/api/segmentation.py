"""API routes and views of the segmentation capability."""
from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
