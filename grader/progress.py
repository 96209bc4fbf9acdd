"""Progress bars: a live widget in Jupyter, plain text where a notebook is executed into a page.

A widget needs a running Jupyter frontend; a page built from an executed notebook (the book) cannot
show one without loading widget code from a CDN, and a page cannot redraw a text bar in place
either. Setting ``GAN_COURSE_PROGRESS=text`` (the book's build does) prints each bar once, on stdout,
in its final state when it closes: total steps, time, speed and the last losses.
"""
import os
import sys

PROGRESS_ENV = "GAN_COURSE_PROGRESS"


def progress_bar(**tqdm_arguments):
    """A tqdm bar: tqdm.auto's choice, or a one-line text bar on stdout when GAN_COURSE_PROGRESS is "text"."""
    if os.environ.get(PROGRESS_ENV) == "text":
        return final_line_bar()(file=sys.stdout, **tqdm_arguments)
    from tqdm.auto import tqdm

    return tqdm(**tqdm_arguments)


def final_line_bar():
    """A text tqdm class that draws nothing until close(), then the bar's final state, once."""
    from tqdm.std import tqdm

    class FinalLineBar(tqdm):
        closing = False

        def display(self, *arguments, **keywords):
            return super().display(*arguments, **keywords) if self.closing else True

        def close(self):
            self.closing = True
            super().close()

    return FinalLineBar
