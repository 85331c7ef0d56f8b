"""Tests of align_cli.model."""
