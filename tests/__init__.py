"""Tests: pure policies, activities, workflows on the time-skipping server, replay."""
