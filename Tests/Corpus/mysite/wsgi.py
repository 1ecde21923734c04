# What `django-admin startproject mysite` leaves in mysite/wsgi.py, minus Django.
from app import application  # noqa: F401
