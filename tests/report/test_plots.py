import subprocess
import sys

import pytest
import torch

import actlab
from actlab.report import plot_functions
from actlab.report.plots import derivatives

pytest.importorskip("matplotlib")


def test_derivatives_of_known_function():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    f, d1, d2 = derivatives(lambda t: t ** 3, x)
    torch.testing.assert_close(f, x ** 3)
    torch.testing.assert_close(d1, 3 * x ** 2)
    torch.testing.assert_close(d2, 6 * x)


def test_plot_returns_a_figure_and_out_writes_png(tmp_path):
    from matplotlib.figure import Figure

    out = tmp_path / "sub" / "f.png"
    fig = plot_functions({"tanh": torch.tanh, "relu": torch.relu}, out)
    assert isinstance(fig, Figure) and [len(ax.lines) for ax in fig.axes] == [4, 4, 4]  # 2 curves + 2 zero lines
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_zoo_name_and_an_expression_plot_by_name():
    fig = plot_functions([*actlab.names(), "x * sigmoid(beta * x)", actlab.expr.parse("max(x, tanh(x))")])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [*actlab.names(), "x * sigmoid(beta * x)", "max(x, tanh(x))"]


def test_bad_input_is_a_clear_error():
    with pytest.raises(KeyError, match="did you mean isrlu"):
        plot_functions("isrl")
    with pytest.raises(ValueError, match="lo < hi"):
        plot_functions("relu", lo=1, hi=0)


def test_plotting_keeps_the_backend_and_never_loads_pyplot():
    code = ("import matplotlib; matplotlib.use('svg'); import sys\n"
            "from actlab.report import plot_functions\n"
            "plot_functions(['relu', 'elu'])\n"
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
