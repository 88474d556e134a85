"""Recorded runs played again: the CI check (today's code against the recording, JUnit XML) and macros on a live device."""
