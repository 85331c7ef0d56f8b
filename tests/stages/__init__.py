"""Tests of align_cli.stages."""
