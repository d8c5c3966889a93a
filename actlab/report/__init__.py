"""Tables, plots and the HTML report. Plots are matplotlib Figures (loaded only when one is drawn).

>>> from actlab.report import plot_functions
>>> fig = plot_functions(["isrlu", "elu", "x * sigmoid(beta * x)"])      # shown by a notebook; out= saves it
"""

from .plots import derivatives, plot_activations, plot_functions

__all__ = ["derivatives", "plot_functions", "plot_activations"]
