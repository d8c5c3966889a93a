import torch

from actlab.report.plots import derivatives, plot_functions


def test_derivatives_of_known_function():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    f, d1, d2 = derivatives(lambda t: t ** 3, x)
    torch.testing.assert_close(f, x ** 3)
    torch.testing.assert_close(d1, 3 * x ** 2)
    torch.testing.assert_close(d2, 6 * x)


def test_plot_writes_png(tmp_path):
    out = plot_functions({"tanh": torch.tanh, "relu": torch.relu}, tmp_path / "sub" / "f.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
