"""Tests of align_cli.aligners."""
