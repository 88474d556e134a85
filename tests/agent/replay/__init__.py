"""Tests of the report, CI replay, macros, example tasks and the Android end-to-end run."""
