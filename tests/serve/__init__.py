"""Tests of align_cli.serve."""
