"""The activation zoo: one registry, a functional form and an ``nn.Module`` for every entry.

>>> import actlab
>>> act = actlab.get("isrlu", alpha=3.0)      # or actlab.ISRLU(alpha=3.0)
>>> actlab.names()[:3]
['isrlu', 'isru', 'isru_sigmoid']
"""

from . import functional
from ._registry import Activation, ActivationSpec, check_hparam, check_input, get, names, register, spec
from ._gated import *  # noqa: F401,F403
from ._gated import __all__ as _gated_all
from ._searched import *  # noqa: F401,F403
from ._searched import __all__ as _searched_all
from ._zoo import *  # noqa: F401,F403
from ._zoo import __all__ as _zoo_all

__all__ = ["Activation", "ActivationSpec", "functional", "get", "names", "spec", "register", "check_input",
           "check_hparam", *_zoo_all, *_searched_all, *_gated_all]
