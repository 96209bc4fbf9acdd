"""Where the local copy of MathJax is: the book serves it and feedback pages inline it, so math renders offline.

`make setup` puts one file of the pinned npm release (``tex-svg.js``, self-contained: SVG output needs no
font files) in ``<environment>/share/mathjax/``; ``GAN_COURSE_MATHJAX`` points elsewhere.
"""
import os
import sys
from pathlib import Path

MATHJAX_ENV = "GAN_COURSE_MATHJAX"
# Added to a page's MathJax configuration (merged into any window.MathJax set before it). The page
# has only tex-svg.js, so it must not load other components: no TeX extension loading (autoload,
# \require), and the menu ignores choices saved in the browser by another MathJax page (another
# renderer, accessibility), which would ask for components the page does not have and stop the typesetting.
OFFLINE_CONFIG_JS = r"""window.MathJax = window.MathJax || {};
MathJax.tex = Object.assign({}, MathJax.tex, {packages: {'[-]': ['autoload', 'require']}});
MathJax.loader = {load: []};
MathJax.startup = Object.assign({}, MathJax.startup, {
  ready() {
    MathJax._.ui.menu.Menu.Menu.prototype.mergeUserSettings = function () {};
    MathJax.startup.defaultReady();
  }
});
"""


class MathJaxNotFound(FileNotFoundError):
    """The local MathJax file is missing; the message says how to get it."""


def mathjax_script():
    """The path of MathJax's ``tex-svg.js``; MathJaxNotFound naming `make setup` when it is not there."""
    configured = os.environ.get(MATHJAX_ENV)
    path = Path(configured) if configured else Path(sys.prefix) / "share" / "mathjax" / "tex-svg.js"
    if not path.is_file():
        raise MathJaxNotFound(
            f"MathJax is not at {path}: run `make setup` (it fetches the pinned release with npm), "
            f"or set {MATHJAX_ENV} to a copy of MathJax 3's es5/tex-svg.js."
        )
    return path
