"""The seed's wsgi.py pattern, unchanged in spirit: name the process after the
build and its deploy tag, expose the worker id as a request-log variable, and
preload Django before the worker takes traffic so no user pays for the warm-up.
"""
import os
import sys

import uwsgi

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, BUILD_DIR)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_demo.settings")

build = os.path.basename(BUILD_DIR)
try:
    with open(os.path.join(BUILD_DIR, ".DEPLOY_TAG")) as f:
        deploy_tag = f.read().strip()
except OSError:
    deploy_tag = "untagged"

uwsgi.setprocname("uwsgi worker %d <%s:%s>" % (uwsgi.worker_id(), build, deploy_tag))

from django.core.wsgi import get_wsgi_application  # noqa: E402

django_app = get_wsgi_application()

# Preload: import every view and resolve the URLconf now, not on the first request.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns


def application(environ, start_response):
    uwsgi.set_logvar("worker_id", str(uwsgi.worker_id()))
    return django_app(environ, start_response)
