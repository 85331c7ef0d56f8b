"""Tests of align_cli.tools."""
