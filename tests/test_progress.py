"""grader.progress: live bars in Jupyter, one final text line where a notebook becomes a page (the book)."""
import io

from grader import progress


def run_bar(monkeypatch, mode, steps=120):
    monkeypatch.setenv(progress.PROGRESS_ENV, mode)
    stdout = io.StringIO()
    monkeypatch.setattr(progress.sys, "stdout", stdout)
    bar = progress.progress_bar(total=steps, desc="training", unit="step", mininterval=0)
    for step in range(steps):
        bar.set_postfix_str(f"epoch 1  D loss {step}", refresh=False)
        bar.update(1)
    bar.close()
    return bar, stdout.getvalue()


def test_text_mode_prints_the_final_state_once(monkeypatch):
    _, printed = run_bar(monkeypatch, "text")
    lines = [line for line in printed.replace("\r", "\n").splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines}"
    assert "training: 100%" in lines[0] and "120/120" in lines[0] and "D loss 119" in lines[0]


def test_text_mode_prints_nothing_when_disabled(monkeypatch):
    monkeypatch.setenv(progress.PROGRESS_ENV, "text")
    stdout = io.StringIO()
    monkeypatch.setattr(progress.sys, "stdout", stdout)
    bar = progress.progress_bar(total=3, disable=True)
    bar.update(3)
    bar.close()
    assert stdout.getvalue() == ""


def test_otherwise_tqdm_auto_chooses(monkeypatch):
    from tqdm.auto import tqdm

    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    bar = progress.progress_bar(total=1, disable=True)
    assert type(bar) is tqdm
