"""Sphinx settings for the self-study book. Build it with `make book` (python -m grader book), which
first writes book/_generated/ (see grader/grading/book.py); running sphinx-build alone skips that step."""
from grader.grading.book import DOWNLOADS, FIGURES, GENERATED, MATHJAX_CONFIG, WALKTHROUGH, cache_path

project = "Build a GAN"
author = "the gan-course authors"
copyright = "2026, the gan-course authors. MNIST: Yann LeCun, Corinna Cortes, Christopher J. C. Burges (CC BY-SA 3.0)"

extensions = ["myst_nb", "sphinx.ext.githubpages"]  # githubpages: a .nojekyll, so GitHub Pages serves _static
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", f"{GENERATED}/{WALKTHROUGH}/runs",
                    f"{GENERATED}/{FIGURES}", f"{GENERATED}/{DOWNLOADS}"]

# Notebooks run in their own folder (06 finds the exercise functions beside it); results are cached
# by jupyter-cache, so an unchanged notebook is not run again. A notebook that raises fails the build.
nb_execution_mode = "cache"
nb_execution_cache_path = str(cache_path())
nb_execution_in_temp = False
nb_execution_timeout = 1800
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# MathJax from the book itself (copied by prepare() from the pinned local release): no CDN.
html_static_path = [f"{GENERATED}/_static"]
mathjax_path = "mathjax/tex-svg.js"
mathjax_config_path = f"{GENERATED}/{MATHJAX_CONFIG}"  # keeps MathJax to that one file (grader/grading/mathjax.py)

html_theme = "sphinx_book_theme"
html_title = "Build a GAN"
html_theme_options = {
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
# The theme reads the colour mode from the page when the reader has chosen none; left empty, it
# logs an error in the console of every page.
html_context = {"default_mode": "auto"}
