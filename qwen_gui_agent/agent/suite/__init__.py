"""Suites: several task files run on a pool of devices at once, sharing one model backend.

``tasks`` expands the task arguments (files, folders, globs); ``pool`` hands
devices to workers and retires the ones that drop; ``guard`` stops runs on
Ctrl-C and notices a dropped device; ``runner`` drives the workers;
``summary`` writes suite.json, JUnit XML and an index page.
"""
