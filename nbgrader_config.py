"""nbgrader settings for the course (the repository root is the nbgrader course directory).

solutions/<assignment>/  is nbgrader's *source* folder (reference solutions, hidden tests);
notebooks/<assignment>/  is its *release* folder (what students get, generated, never edited).
"""
c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "gan-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# TensorFlow's import takes a few seconds; give each cell room on a slow laptop.
c.Execute.timeout = 120
