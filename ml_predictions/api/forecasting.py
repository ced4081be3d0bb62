"""API routes and views of the forecasting capability."""
from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
