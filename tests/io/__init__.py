"""Tests of align_cli.io."""
