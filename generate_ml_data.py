#!/usr/bin/env python
"""`python generate_ml_data.py [options]` — same as `python manage.py generate_ml_data` (seed 004)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend_django.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "generate_ml_data", *sys.argv[1:]])
