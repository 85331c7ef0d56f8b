"""Tests of align_cli.cli."""
