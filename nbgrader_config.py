"""nbgrader settings for the course (the repository root is the nbgrader course directory).

solutions/<assignment>/  is nbgrader's *source* folder (reference solutions, hidden tests);
notebooks/<assignment>/  is its *release* folder (what students get, generated, never edited).
"""
from grader.course import COURSE_ID, RELEASE_FOLDER, SOURCE_FOLDER

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = COURSE_ID
c.CourseDirectory.source_directory = SOURCE_FOLDER
c.CourseDirectory.release_directory = RELEASE_FOLDER

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# TensorFlow's import takes a few seconds; give each cell room on a slow laptop.
c.Execute.timeout = 120

# Notebook 8's "find the bugs" cell reaches students with its bugs planted instead of a stub
# (grader/grading/planted.py); every other solution cell is cleared as usual.
from grader.grading.planted import generate_assignment_preprocessors  # noqa: E402

c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()
