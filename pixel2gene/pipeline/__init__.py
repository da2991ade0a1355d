"""Glue shared by the step tools and the local runner."""
