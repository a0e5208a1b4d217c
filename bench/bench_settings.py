"""The portal's settings, plus the floor page: for the bench's gunicorn only.

bench/served.py points DJANGO_SETTINGS_MODULE here (with bench/ on
PYTHONPATH). Everything is portal.settings, read from the same environment;
only the URLconf (the portal's URLs plus the floor page, bench/floor.py) and
a template directory for the floor page's template are added.
"""

from pathlib import Path

from portal.settings import *  # noqa: F403
from portal.settings import TEMPLATES

ROOT_URLCONF = "floor"
BENCH_TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATES = [
    {**TEMPLATES[0], "DIRS": [*TEMPLATES[0]["DIRS"], BENCH_TEMPLATES]},
    *TEMPLATES[1:],
]
