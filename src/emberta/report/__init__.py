"""Presentation: terminal tables (rich) for model details, tasks and evaluation summaries."""
