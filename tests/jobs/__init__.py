"""Tests of align_cli.jobs."""
