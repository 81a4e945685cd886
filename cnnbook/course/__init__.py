"""Exercises for instructors: the students' notebooks, grading in a sandbox, feedback."""
