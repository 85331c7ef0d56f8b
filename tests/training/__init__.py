"""Tests of align_cli.training."""
