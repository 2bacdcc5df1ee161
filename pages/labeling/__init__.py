"""The labeling view (base.py) and one page per labeling widget."""
