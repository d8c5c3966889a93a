"""Child networks whose activation is swappable: every model takes ``act=``.

>>> from actlab.models import CNN1D
>>> net = CNN1D(act="isrlu:alpha=3")     # registry name + hyperparameters, an expression, or a module factory
"""

from ._act import ActSpec, act_label, candidate_act, is_act_module, parse_act_string, resolve_act, unary_act
from ._nets import CNN1D, CNN2D, MLP, ResNet20
from ._registry import MODELS, build_model, init_weights
from ._rnn import DerivedGate, GatedRNN
from ._transformer import GATED_WIDTH, FeedForward, TransformerLM, is_gated

__all__ = ["ActSpec", "resolve_act", "unary_act", "candidate_act", "act_label", "parse_act_string", "is_act_module",
           "MLP", "CNN1D", "CNN2D", "ResNet20", "GatedRNN", "DerivedGate", "FeedForward", "TransformerLM", "is_gated",
           "GATED_WIDTH", "MODELS", "build_model", "init_weights"]
